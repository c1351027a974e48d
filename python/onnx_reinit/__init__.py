"""Re-initialize the weights of ONNX models: the onnx-reinit library from Python.

Example::

    import onnx, onnx_reinit
    model = onnx.load("model.onnx")
    fresh, report = onnx_reinit.reinitialize(model, "kaiming_normal", seed=7)
    onnx.save(fresh, "model.reinit.onnx")
    print(report["values"], "values re-initialized")

Every option is the command-line flag of the same name (``--lstm-forget-bias`` is
``lstm_forget_bias``), read by the same parser with the same defaults and messages; an option
left at None takes the recipe's value, else the default. The same arguments give the same tensor
values as ``onnx-reinit``. Errors: ValueError for bad options, :class:`ModelError` (a ValueError)
for models that cannot be read or re-initialized, OSError for files. The work runs without the
GIL; concurrent calls from several threads are safe.
"""

import os as _os
import json as _json

from onnx_reinit import _core

__version__ = _core.__version__
ModelError = _core.ModelError

__all__ = ["reinitialize", "reinitialize_file", "strip_file", "stats", "verify", "diff", "VerifyResult", "ModelError",
           "__version__"]


def _given(options):
    """The options the caller set: None means 'not given' (so that a recipe's value stays)."""
    return {key: value for key, value in options.items() if value is not None}


def _source(model):
    """A model for _core: bytes as they are, a ModelProto serialized, a path as str."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    if isinstance(model, (str, _os.PathLike)):
        return _os.fspath(model)
    if hasattr(model, "SerializeToString"):
        return model.SerializeToString()
    raise TypeError(f"model must be an onnx.ModelProto, bytes or a path, not {type(model).__name__}")


def reinitialize(model, scheme=None, *, seed=None, threads=None, rules=None, recipe=None, only=None,
                 exclude=None, bias=None, embedding=None, rnn_recurrence=None, lstm_forget_bias=None,
                 convtranspose_fan=None, mode=None, nonlinearity=None, negative_slope=None, gain=None,
                 value=None, mean=None, std=None, low=None, high=None, dry_run=None, statistics=True,
                 **options):
    """Re-initialize a model in memory; return ``(model, report)``.

    model: an ``onnx.ModelProto`` (a new ModelProto is returned; the argument is not changed) or
        its serialized ``bytes`` (``bytes`` are returned). Models over 2 GiB or with external data
        need :func:`reinitialize_file`.
    scheme: the scheme for weights, e.g. "he", "kaiming_uniform", "xavier_uniform",
        "normal:std=0.02" (all names: ``onnx-reinit --help``); required unless the recipe has one.
    seed: 64-bit seed (default 0); the same seed gives the same values for any ``threads``.
    threads: fill threads, 0 (default) for one per core.
    rules: "PATTERN=SCHEME[:key=value,...]" or "PATTERN=keep" strings, first match wins.
    recipe: path of a textproto recipe file; the arguments given here win over it.
    only, exclude: regexes (RE2 syntax) searched in tensor names and in the names of the nodes that read them.
    bias ("zeros" or "torch"), embedding ("normal" or "scheme"), rnn_recurrence ("orthogonal" or
        "scheme"), lstm_forget_bias, convtranspose_fan ("torch" or "input_channels"): the role
        defaults, as the flags of the same name.
    mode, nonlinearity, negative_slope, gain, value, mean, std, low, high: the scheme's parameters.
        A parameter the scheme does not use is a ValueError.
    dry_run: plan only; the model is returned unchanged.
    statistics: include each tensor's moments before and after, as ``--report`` does.
    options: any other option of the command (a field of proto/onnx_reinit/recipe.proto), e.g.
        requantize=True, untie=True (copies of exporter-merged tensors), strict=True (a rule
        without effect, or nothing re-initialized, is a ValueError).

    The report is a dict with the fields of ``onnx-reinit --report`` JSON: scheme, seed, version,
    tensors (name, role, op_type, shape, fan_in, fan_out, distribution, before, after, rule, ...),
    skipped (with the reason), values, warnings, totals.
    """
    given = _given(dict(scheme=scheme, seed=seed, threads=threads, rules=rules, recipe=recipe, only=only,
                        exclude=exclude, bias=bias, embedding=embedding, rnn_recurrence=rnn_recurrence,
                        lstm_forget_bias=lstm_forget_bias, convtranspose_fan=convtranspose_fan, mode=mode,
                        nonlinearity=nonlinearity, negative_slope=negative_slope, gain=gain, value=value,
                        mean=mean, std=std, low=low, high=high, dry_run=dry_run, **options))
    if "recipe" in given:
        given["recipe"] = _os.fspath(given["recipe"])
    source = _source(model)
    if isinstance(source, str):
        raise TypeError("reinitialize takes a ModelProto or bytes; for files use reinitialize_file")
    written, report = _core.reinitialize(source, given, bool(statistics))
    if written is None:  # dry run
        written = source
    if isinstance(model, (bytes, bytearray, memoryview)):
        return written, _json.loads(report)
    fresh = type(model)()
    fresh.ParseFromString(written)
    return fresh, _json.loads(report)


def reinitialize_file(src, dst, scheme=None, *, report=None, **options):
    """Re-initialize the model file ``src`` into ``dst``; return the report (a dict).

    The CLI's path, streamed: models with external data (written to ``dst + ".data"``) or over
    2 GiB take a few MB of memory. ``src`` is never modified: a ``dst`` that is ``src`` (under any
    name, a symlink or a hard link) or that would replace one of its data files raises ValueError.
    On error nothing is written.
    Takes the options of :func:`reinitialize`, plus external_data, size_threshold, embed and
    materialize (the flags of the same names). With materialize=True, a model written by
    :func:`strip_file` is regenerated with its stored recipe (give no scheme or other option that
    changes values), every tensor checked against its SHA-256. statistics=True adds the moments before and after,
    as ``--report`` does: two more passes over the weights, whose pages then count in the RSS.
    report: also write the report there, as ``--report`` does: JSON (with the moments), or for a
    path ending in ".html" a self-contained page with the statistics of ``src`` and ``dst`` side
    by side.
    """
    given = _given(dict(scheme=scheme, **options))
    statistics = bool(given.pop("statistics", False))
    if "recipe" in given:
        given["recipe"] = _os.fspath(given["recipe"])
    report_path = "" if report is None else _os.fspath(report)
    return _json.loads(_core.reinitialize_file(_os.fspath(src), _os.fspath(dst), given, statistics, report_path))


def strip_file(src, dst, scheme=None, **options):
    """Write ``dst``: the model file ``src`` without the values that re-initializing it with these
    options would write, as ``onnx-reinit strip`` does; return the report of that re-initialization
    (a dict) with ``stripped`` (the names of the tensors left out) and ``stripped_bytes``.

    The stripped tensors keep their names, shapes and types and carry Polygraphy's weight-strip
    marks; the recipe and each tensor's SHA-256 are in the model's metadata_props.
    ``reinitialize_file(dst, full, materialize=True)`` writes exactly the bytes that
    ``reinitialize_file(src, full, scheme, **options)`` writes, or raises ModelError naming the
    first tensor whose values do not match their hash. Takes the options of
    :func:`reinitialize_file` but statistics, report, dry_run, untie and materialize.
    """
    given = _given(dict(scheme=scheme, **options))
    if "recipe" in given:
        given["recipe"] = _os.fspath(given["recipe"])
    report, stripped, stripped_bytes = _core.strip_file(_os.fspath(src), _os.fspath(dst), given)
    report = _json.loads(report)
    report["stripped"] = list(stripped)
    report["stripped_bytes"] = stripped_bytes
    return report


def stats(model, scheme=None, *, threads=0, histogram=False, hash=False, **scheme_parameters):
    """Per-tensor statistics: a list of dicts, the ``tensors`` of ``onnx-reinit stats --json``.

    model: an ``onnx.ModelProto``, its bytes, or a file path (mapped, not loaded).
    scheme (and its parameters: std=..., gain=..., ...): adds each weight's target_std and
    std_ratio. histogram: add a 16-bin histogram per tensor. hash: add each tensor's ``sha256`` (of
    its values as stored, in raw_data's layout), as ``--hash`` does.
    """
    given = _given(dict(scheme=scheme, **scheme_parameters))
    report = _core.stats(_source(model), given, threads, 16 if histogram else 0, bool(hash))
    return _json.loads(report)["tensors"]


class VerifyResult:
    """The result of :func:`verify`: true when it checked weights and every one fits the scheme.

    weights: one finding (a dict) per weight; findings: those that fail, each with its ``problem``;
    unjudged: the weights it could not judge (quantized, newer data types, ...), each with its
    ``reason``; report: the whole ``onnx-reinit verify --json`` document; github_annotations: the
    GitHub Actions workflow commands of ``verify --format github`` (a str of lines).
    """

    def __init__(self, report, github_annotations=""):
        self.report = report
        self.github_annotations = github_annotations
        self.weights = report["weights"]
        self.findings = [w for w in self.weights if w["problem"]]
        self.unjudged = report["unjudged"]

    def __bool__(self):
        return self.report["passed"]

    def __repr__(self):
        return (f"VerifyResult({'ok' if self else 'FAILED'}: {len(self.findings)} of "
                f"{len(self.weights)} weights do not match {self.report['scheme']})")


def verify(model, scheme=None, *, preset=None, initializer_range=None, tolerance=None, threads=0, junit=None,
           **scheme_parameters):
    """Check that every weight looks freshly initialized with ``scheme``: a :class:`VerifyResult`.

    model: an ``onnx.ModelProto``, its bytes, or a file path. preset (instead of scheme, with
    initializer_range): check every tensor against what the preset gives it, as ``verify --preset``
    does; what it cannot read of the structure comes as a UserWarning. tolerance: the allowed
    relative deviation of each weight's std (default: 6 standard errors for its size, at least
    0.05). junit: also write a JUnit XML report there, as ``--junit`` does.
    """
    given = _given(dict(scheme=scheme, preset=preset, initializer_range=initializer_range, **scheme_parameters))
    junit_path = "" if junit is None else _os.fspath(junit)
    report, annotations = _core.verify(_source(model), given, tolerance, threads, junit_path)
    return VerifyResult(_json.loads(report), annotations)


def diff(a, b, *, threads=0):
    """Which tensors differ between two models: the ``onnx-reinit diff --json`` report (a dict).

    a, b: ``onnx.ModelProto``, bytes, or file paths.
    """
    return _json.loads(_core.diff(_source(a), _source(b), threads))
