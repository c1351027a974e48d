#!/usr/bin/env python3
"""--preset against the frameworks' own init code, tensor by tensor.

For every fixture of testdata/generate_transformer_models.py, the CLI re-initializes it with the
preset of its family; every float initializer of the output must then have the mean and std that
the framework's init code gives it (testdata/transformer_models.expected.json), within the
sampling tolerance of its size: for n values drawn from N(m, s), the sample mean's standard error
is s/sqrt(n) and the sample std's s/sqrt(2(n-1)); a tensor passes within Z of them. Constants
(biases, norm scales) must be exactly their value, and tensors that are not learned ("keep") must
keep their bytes. Prints the largest deviation per fixture in units of its tolerance.

ONNX Runtime's optimizations of the fixtures (testdata/ort_extended_NAME.onnx, written by
generate_ort_optimized.js) are checked against NAME's expectations: a tensor the optimizer kept
by name has its expectation; one it made by folding a lookup of consecutive rows of a table (BERT's
position rows) has the table's; any other (T5's relative bias gathered per query and key, a bias
summed with a mask) is not a learned tensor of the framework and must keep its bytes.

verify --preset checks every tensor against what the preset gives it: each fixture as its framework
initialized it and as the preset re-initialized it passes; gpt2's output checked against bert fails
exactly on the residual projections.

Also: --initializer-range scales every normal tensor; gpt2 on a graph without transformer blocks
warns that its residual rule is not applied, and --strict refuses.

Usage: presets_test.py CLI TESTDATA_DIR WORK_DIR
"""
import json
import math
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import onnx
import onnx.numpy_helper

# Two-sided tail of N(0, 1) beyond 5 is 5.7e-7: with ~100 checks per run, a false failure about
# once in 17,000 runs (the values are seeded, so a run that passes passes for good).
Z = 5.0


def run(cli, *args, check=True):
    result = subprocess.run([cli, *map(str, args)], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{args}: exit {result.returncode}: {result.stderr}")
    return result


def initializers(path):
    return {t.name: t for t in onnx.load(str(path)).graph.initializer}


def check_fixture(cli, fixture, preset, tensors, work, range_scale=1.0, extra=()):
    out = work / f"{fixture}.{preset}.onnx"
    run(cli, fixture_path(fixture), "--preset", preset, *extra, "-o", out)
    # The framework's own values (drawn with the default range), then the preset's.
    for model in (out,) if extra else (fixture_path(fixture), out):
        verified = run(cli, "verify", model, "--preset", preset, *extra, "--json", check=False)
        if verified.returncode != 0:
            failed = [w["name"] for w in json.loads(verified.stdout)["weights"] if w.get("problem")]
            return [f"verify --preset {preset} {model.name}: exit {verified.returncode}, failing {failed}"], 0.0
    before, after = initializers(fixture_path(fixture)), initializers(out)
    failures, worst = [], 0.0
    for name, expected in sorted(tensors.items()):
        if expected == "keep":
            if after[name].SerializeToString() != before[name].SerializeToString():
                failures.append(f"{name}: not learned, but changed")
            continue
        mean, std = expected[0], expected[1] * range_scale
        values = onnx.numpy_helper.to_array(after[name]).astype(np.float64).ravel()
        if std == 0:
            if not np.all(values == mean):
                failures.append(f"{name}: expected all {mean}, got values in [{values.min()}, {values.max()}]")
            continue
        n = values.size
        mean_tolerance = Z * std / math.sqrt(n)
        std_tolerance = Z * std / math.sqrt(2 * (n - 1))
        mean_units = abs(values.mean() - mean) / mean_tolerance
        std_units = abs(values.std(ddof=1) - std) / std_tolerance
        worst = max(worst, mean_units, std_units)
        if mean_units > 1 or std_units > 1:
            failures.append(f"{name}: mean {values.mean():.5f} std {values.std(ddof=1):.5f}, "
                            f"expected N({mean}, {std}) within {mean_tolerance:.5f} / {std_tolerance:.5f}")
    return failures, worst


TESTDATA = None
OPTIMIZED = "ort_extended_"


def row_slice_of(values, tables):
    """The name of the table in `tables` (name: array) whose consecutive rows `values` are, or None."""
    for name, table in tables.items():
        if table.ndim != 2 or values.size == 0 or values.size % table.shape[1]:
            continue
        rows = values.reshape(-1, table.shape[1])
        for start in range(table.shape[0] - rows.shape[0] + 1):
            if np.array_equal(table[start:start + rows.shape[0]], rows):
                return name
    return None


def optimized_expectations(fixture, base_entry):
    """The expectations of ONNX Runtime's optimization of a fixture, from the fixture's own."""
    base_tensors = base_entry["tensors"]
    base = {name: onnx.numpy_helper.to_array(t) for name, t in initializers(fixture_path(fixture[len(OPTIMIZED):])).items()
            if name in base_tensors and base_tensors[name] != "keep"}
    tensors = {}
    for name, tensor in initializers(fixture_path(fixture)).items():
        if tensor.data_type != onnx.TensorProto.FLOAT:
            continue
        source = name if name in base_tensors else row_slice_of(onnx.numpy_helper.to_array(tensor), base)
        tensors[name] = base_tensors[source] if source else "keep"
    return {"preset": base_entry["preset"], "tensors": tensors}


def fixture_path(fixture):
    return TESTDATA / fixture


def main():
    global TESTDATA
    cli, TESTDATA, work = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    expected = json.loads((TESTDATA / "transformer_models.expected.json").read_text())
    for optimized in sorted(TESTDATA.glob(OPTIMIZED + "torch_*.onnx")):
        base = optimized.name[len(OPTIMIZED):]
        if base in expected:
            expected[optimized.name] = optimized_expectations(optimized.name, expected[base])
    failures = []
    for fixture, entry in sorted(expected.items()):
        problems, worst = check_fixture(cli, fixture, entry["preset"], entry["tensors"], work)
        print(f"{fixture} --preset {entry['preset']}: {len(entry['tensors'])} tensors, largest deviation "
              f"{worst:.3f} of the tolerance")
        failures += [f"{fixture}: {p}" for p in problems]

    # --initializer-range 0.05: every N(0, 0.02) tensor becomes N(0, 0.05), the residual ones of gpt2
    # and megatron too.
    for fixture in ("torch_bert.onnx", "torch_gpt2_nofold.onnx", "torch_megatron.onnx"):
        entry = expected[fixture]
        problems, worst = check_fixture(cli, fixture, entry["preset"], entry["tensors"], work,
                                        range_scale=0.05 / 0.02, extra=("--initializer-range", "0.05"))
        print(f"{fixture} --preset {entry['preset']} --initializer-range 0.05: largest deviation {worst:.3f}")
        failures += [f"{fixture} (range 0.05): {p}" for p in problems]

    # --rule overrides a preset's structural rule as it overrides a scheme.
    out = work / "gpt2_rule.onnx"
    run(cli, TESTDATA / "torch_gpt2_nofold.onnx", "--preset", "gpt2", "--rule", "name:h.0.attn_c_proj.weight=zeros",
        "-o", out)
    overridden = onnx.numpy_helper.to_array(initializers(out)["h.0.attn_c_proj.weight"])
    if np.any(overridden != 0):
        failures.append("--rule did not override gpt2's residual projection rule")

    # verify: gpt2's output against bert fails on the residual projections, and only there.
    # The tensors a preset keeps (llama's rotary tables) are named as such.
    kept = run(cli, "verify", TESTDATA / "torch_llama.onnx", "--preset", "llama")
    if "not checked (preset llama keeps them or draws them in parts): 2 parameter" not in kept.stdout:
        failures.append(f"verify --preset llama: rotary tables not listed as kept: {kept.stdout!r}")
    gpt2 = work / "gpt2_for_verify.onnx"
    run(cli, TESTDATA / "torch_gpt2_nofold.onnx", "--preset", "gpt2", "-o", gpt2)
    verified = run(cli, "verify", gpt2, "--preset", "bert", "--json", check=False)
    failed = sorted(w["name"] for w in json.loads(verified.stdout)["weights"] if w.get("problem"))
    if verified.returncode != 1 or failed != [f"h.{b}.{p}.weight" for b in (0, 1) for p in ("attn_c_proj", "mlp_c_proj")]:
        failures.append(f"verify --preset bert of a gpt2 output: exit {verified.returncode}, failing {failed}")
    both = run(cli, "verify", TESTDATA / "torch_cnn.onnx", "--preset", "gpt2", "--scheme", "he", check=False)
    if both.returncode != 2 or "not both" not in both.stderr:
        failures.append(f"verify --preset with --scheme: exit {both.returncode}, {both.stderr!r}")

    # A graph without transformer blocks: the plain rule, said aloud; --strict refuses.
    cnn = TESTDATA / "torch_cnn.onnx"
    warned = run(cli, cnn, "--preset", "gpt2", "--dry-run")
    if "preset gpt2: the residual projections' rule" not in warned.stderr or "not applied" not in warned.stderr:
        failures.append(f"gpt2 on a CNN: no warning about the residual rule: {warned.stderr!r}")
    strict = run(cli, cnn, "--preset", "gpt2", "--strict", "-o", work / "cnn.onnx", check=False)
    if strict.returncode != 2 or "--strict: preset gpt2" not in strict.stderr or (work / "cnn.onnx").exists():
        failures.append(f"gpt2 --strict on a CNN: exit {strict.returncode}, {strict.stderr!r}")

    # t5 on the same graph: its factors not applied, said aloud.
    warned = run(cli, cnn, "--preset", "t5", "--dry-run")
    if "preset t5: T5's factors" not in warned.stderr or "N(0, fan_in^-0.5)" not in warned.stderr:
        failures.append(f"t5 on a CNN: no warning about T5's factors: {warned.stderr!r}")

    for failure in failures:
        print("FAIL:", failure)
    print(f"{'FAILED' if failures else 'ok'}: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
