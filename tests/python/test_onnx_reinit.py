"""The Python module against the CLI: same arguments, same values; errors; threads; the stub."""
import ast
import concurrent.futures
import json
import os
import pathlib
import subprocess
import threading
import time

import numpy as np
import onnx
import onnx.helper
import onnx.numpy_helper
import pytest

import onnx_reinit

TESTDATA = pathlib.Path(os.environ["TESTDATA_DIR"])
CLI = os.environ["ONNX_REINIT_BINARY"]
CNN = TESTDATA / "torch_cnn.onnx"
LSTM = TESTDATA / "torch_lstm_text.onnx"
VIT = TESTDATA / "torch_vit.onnx"


def run_cli(*args):
    return subprocess.run([CLI, *map(str, args)], check=True, capture_output=True, text=True)


def initializers(model):
    if isinstance(model, (str, pathlib.Path)):
        model = onnx.load(str(model))
    return {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}


def assert_same_tensors(a, b):
    a, b = initializers(a), initializers(b)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_version_is_the_clis():
    assert run_cli("--version").stdout == f"onnx-reinit {onnx_reinit.__version__}\n"


@pytest.mark.parametrize("fixture, args, kwargs", [
    (CNN, ["--scheme", "he", "--seed", "3"], dict(scheme="he", seed=3)),
    (CNN, ["--scheme", "kaiming_uniform", "--bias", "torch", "--rule", r"name:fc\.weight=normal:std=0.02"],
     dict(scheme="kaiming_uniform", bias="torch", rules=[r"name:fc\.weight=normal:std=0.02"])),
    (CNN, ["--scheme", "trunc_normal", "--std", "0.5", "--low", "-0.4", "--high", "0.6", "--only", "conv"],
     dict(scheme="trunc_normal", std=0.5, low=-0.4, high=0.6, only="conv")),
    (LSTM, ["--scheme", "xavier_uniform", "--lstm-forget-bias", "1", "--seed", "42"],
     dict(scheme="xavier_uniform", lstm_forget_bias=1, seed=42)),
    (VIT, ["--scheme", "he", "--bias", "torch", "--untie", "--rule", "role:parameter=normal:std=0.02"],
     dict(scheme="he", bias="torch", untie=True, rules=["role:parameter=normal:std=0.02"])),
    (TESTDATA / "torch_gpt2.onnx", ["--preset", "gpt2", "--initializer-range", "0.03"],
     dict(preset="gpt2", initializer_range=0.03)),
])
def test_same_arguments_give_the_same_values_as_the_cli(tmp_path, fixture, args, kwargs):
    run_cli(fixture, *args, "-q", "-o", tmp_path / "cli.onnx")
    fresh, _ = onnx_reinit.reinitialize(onnx.load(str(fixture)), **kwargs)
    assert isinstance(fresh, onnx.ModelProto)
    assert_same_tensors(fresh, tmp_path / "cli.onnx")


def test_bytes_in_give_bytes_out_and_the_input_is_not_changed():
    original = onnx.load(str(CNN))
    data = original.SerializeToString()
    fresh_bytes, _ = onnx_reinit.reinitialize(data, "he")
    fresh_model, _ = onnx_reinit.reinitialize(original, "he")
    assert isinstance(fresh_bytes, bytes)
    assert_same_tensors(onnx.load_from_string(fresh_bytes), fresh_model)
    assert original.SerializeToString() == data


def test_the_report_has_the_fields_of_the_cli_report(tmp_path):
    run_cli(CNN, "--scheme", "he", "-q", "-o", tmp_path / "out.onnx", "--report", tmp_path / "r.json")
    cli = json.loads((tmp_path / "r.json").read_text())
    _, report = onnx_reinit.reinitialize(onnx.load(str(CNN)), "he")
    assert report.keys() == cli.keys()
    assert report["version"] == onnx_reinit.__version__
    assert [t["name"] for t in report["tensors"]] == [t["name"] for t in cli["tensors"]]
    assert report["tensors"][0].keys() == cli["tensors"][0].keys()
    assert report["tensors"][0]["after"] == cli["tensors"][0]["after"]


def test_a_recipe_file_and_arguments_combine_as_on_the_command_line(tmp_path):
    recipe = tmp_path / "ci.textproto"
    recipe.write_text('scheme: "xavier_uniform"\nrules: "role:bias=keep"\nseed: 42\n')
    run_cli(LSTM, "--recipe", recipe, "--seed", "7", "-q", "-o", tmp_path / "cli.onnx")
    fresh, report = onnx_reinit.reinitialize(onnx.load(str(LSTM)), recipe=recipe, seed=7)
    assert report["seed"] == "7"  # uint64 in JSON is a string
    assert_same_tensors(fresh, tmp_path / "cli.onnx")


def test_dry_run_returns_the_model_unchanged():
    original = onnx.load(str(CNN))
    same, report = onnx_reinit.reinitialize(original, "he", dry_run=True)
    assert report["dry_run"] is True
    assert same.SerializeToString() == original.SerializeToString()


def test_reinitialize_file_gives_the_clis_files_with_external_data(tmp_path):
    run_cli(CNN, "--scheme", "he", "-q", "--external-data", "--size-threshold", "64", "-o", tmp_path / "ext.onnx")
    (tmp_path / "cli").mkdir()
    (tmp_path / "py").mkdir()  # the same output name: the model names its data file
    run_cli(tmp_path / "ext.onnx", "--scheme", "lecun_normal", "-q", "-o", tmp_path / "cli" / "out.onnx")
    report = onnx_reinit.reinitialize_file(tmp_path / "ext.onnx", tmp_path / "py" / "out.onnx", "lecun_normal")
    assert report["model"] == str(tmp_path / "ext.onnx")
    for name in ("out.onnx", "out.onnx.data"):
        assert (tmp_path / "py" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes()


def test_reinitialize_file_never_overwrites_its_input(tmp_path):
    model = tmp_path / "m.onnx"
    model.write_bytes(CNN.read_bytes())
    os.symlink("m.onnx", tmp_path / "link.onnx")
    os.link(model, tmp_path / "hard.onnx")
    for output in (model, str(model), tmp_path / "link.onnx", tmp_path / "hard.onnx"):
        with pytest.raises(ValueError, match="overwrite the input") as error:
            onnx_reinit.reinitialize_file(model, output, "he")
        assert type(error.value) is ValueError  # the caller's mistake, not the model's
    assert model.read_bytes() == CNN.read_bytes()
    # The output's data file (out.onnx.data) would be the input's data file.
    run_cli(CNN, "--scheme", "he", "-q", "--external-data", "--size-threshold", "64", "-o", tmp_path / "ext.onnx")
    (tmp_path / "ext.onnx.data").rename(tmp_path / "out.onnx.data")
    ext = onnx.load(str(tmp_path / "ext.onnx"), load_external_data=False)
    for tensor in ext.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "out.onnx.data"
    onnx.save(ext, str(tmp_path / "ext.onnx"))
    data = (tmp_path / "out.onnx.data").read_bytes()
    with pytest.raises(ValueError, match="would overwrite the input's data file"):
        onnx_reinit.reinitialize_file(tmp_path / "ext.onnx", tmp_path / "out.onnx", "he")
    assert (tmp_path / "out.onnx.data").read_bytes() == data
    assert not (tmp_path / "out.onnx").exists()


def test_bad_options_are_value_errors_that_say_what_is_valid():
    model = onnx.load(str(CNN))
    with pytest.raises(ValueError, match=r"unknown scheme 'kaiming' \(did you mean 'kaiming_normal'\?\); valid schemes: zeros"):
        onnx_reinit.reinitialize(model, "kaiming")
    with pytest.raises(ValueError, match="--std does not apply to scheme 'he_normal'"):
        onnx_reinit.reinitialize(model, "he", std=2.0)
    with pytest.raises(ValueError, match="--bias 'ones': choose zeros or torch"):
        onnx_reinit.reinitialize(model, "he", bias="ones")
    with pytest.raises(ValueError, match="give --scheme"):
        onnx_reinit.reinitialize(model)
    with pytest.raises(TypeError, match="unknown option 'sead'"):
        onnx_reinit.reinitialize(model, "he", sead=3)
    with pytest.raises(TypeError, match="seed must be an int"):
        onnx_reinit.reinitialize(model, "he", seed="3")
    for call in (lambda: onnx_reinit.reinitialize(model, "he", std=2.0),
                 lambda: onnx_reinit.reinitialize(model, "nope")):
        with pytest.raises(ValueError) as error:
            call()
        assert not isinstance(error.value, onnx_reinit.ModelError)


def test_the_exception_class_follows_the_kind_of_error_not_its_wording(tmp_path):
    model = onnx.load(str(CNN))
    # Usage errors, found before or during the work, are plain ValueErrors whatever they say.
    for call in (lambda: onnx_reinit.verify(CNN, "identity"),
                 lambda: onnx_reinit.verify(model, "dirac"),
                 lambda: onnx_reinit.reinitialize(model, "he", external_data=True),
                 lambda: onnx_reinit.reinitialize_file(CNN, tmp_path / "out.onnx", "he", bias="ones")):
        with pytest.raises(ValueError) as error:
            call()
        assert type(error.value) is ValueError, error.value
    # --strict refusals and the model's faults are ModelErrors.
    for call in (lambda: onnx_reinit.reinitialize(model, "he", only="nothing", strict=True),
                 lambda: onnx_reinit.reinitialize(b"not a model", "he")):
        with pytest.raises(onnx_reinit.ModelError):
            call()
    assert not (tmp_path / "out.onnx").exists()


def test_malformed_models_raise_model_error_and_files_os_error(tmp_path):
    assert issubclass(onnx_reinit.ModelError, ValueError)
    with pytest.raises(onnx_reinit.ModelError, match="not an ONNX model"):
        onnx_reinit.reinitialize(b"not a model", "he")
    (tmp_path / "garbage.onnx").write_bytes(b"\xff" * 64)
    with pytest.raises(onnx_reinit.ModelError, match="garbage.onnx"):
        onnx_reinit.reinitialize_file(tmp_path / "garbage.onnx", tmp_path / "out.onnx", "he")
    with pytest.raises(onnx_reinit.ModelError, match="orthogonal needs a tensor of rank >= 2"):
        onnx_reinit.reinitialize(onnx.load(str(CNN)), "he", rules=["role:bias=orthogonal"])
    with pytest.raises(onnx_reinit.ModelError, match="--strict: rule 'name:nothing=zeros' matches no tensor"):
        onnx_reinit.reinitialize(onnx.load(str(CNN)), "he", rules=["name:nothing=zeros"], strict=True)
    with pytest.raises(FileNotFoundError, match="missing.onnx"):
        onnx_reinit.reinitialize_file(tmp_path / "missing.onnx", tmp_path / "out.onnx", "he")
    with pytest.raises(OSError):
        onnx_reinit.reinitialize_file(CNN, tmp_path / "no" / "dir" / "out.onnx", "he")
    with pytest.raises(FileNotFoundError):
        onnx_reinit.stats(tmp_path / "missing.onnx")
    assert sorted(os.listdir(tmp_path)) == ["garbage.onnx"]


def test_concurrent_calls_give_the_values_of_serial_ones():
    data = onnx.load(str(LSTM)).SerializeToString()
    serial = [onnx_reinit.reinitialize(data, "he", seed=seed)[0] for seed in range(8)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda seed: onnx_reinit.reinitialize(data, "he", seed=seed)[0], range(8)))
    assert parallel == serial
    assert len(set(serial)) == 8


def big_matmul_model(size):
    weight = onnx.numpy_helper.from_array(np.zeros((size, size), np.float32), "w")
    node = onnx.helper.make_node("MatMul", ["x", "w"], ["y"])
    graph = onnx.helper.make_graph(
        [node], "g", [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, size])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, size])], [weight])
    return onnx.helper.make_model(graph).SerializeToString()


def test_the_fill_releases_the_gil():
    # An orthogonal 1024 x 1024 takes a few tenths of a second in C++. If the call held the GIL,
    # this thread could not run meanwhile: the longest gap between its ticks would be the call's.
    data = big_matmul_model(1024)
    ticks, done, span = [], threading.Event(), []

    def work():
        start = time.perf_counter()
        onnx_reinit.reinitialize(data, "orthogonal", threads=1, statistics=False)
        span.extend([start, time.perf_counter()])
        done.set()

    worker = threading.Thread(target=work)
    worker.start()
    while not done.is_set():
        ticks.append(time.perf_counter())
        time.sleep(0.001)
    worker.join()
    start, end = span
    inside = [t for t in ticks if start <= t <= end]
    longest_gap = max(np.diff([start, *inside, end]))
    assert end - start > 0.1, "the model is too small to tell"
    assert longest_gap < 0.5 * (end - start)


def test_stats_verify_and_diff(tmp_path):
    rows = onnx_reinit.stats(CNN, "he")
    assert {"onnx::Conv_23", "fc.weight"} <= {row["name"] for row in rows}
    assert all("std_ratio" in row for row in rows if row["role"] == "weight")
    assert onnx_reinit.stats(onnx.load(str(CNN))) == onnx_reinit.stats(CNN.read_bytes())

    fresh, _ = onnx_reinit.reinitialize(onnx.load(str(CNN)), "he", seed=1)
    passed = onnx_reinit.verify(fresh, "he")
    assert passed and not passed.findings
    failed = onnx_reinit.verify(CNN, "he")  # PyTorch's own init, U(+-1/sqrt(fan_in)), is not He's
    assert not failed and failed.findings and all(f["problem"] for f in failed.findings)
    unread = onnx_reinit.verify(TESTDATA / "malformed" / "float8_weight.onnx", "he")
    assert not unread and not unread.weights and unread.unjudged[0]["name"] == "W"
    with pytest.raises(ValueError, match="verify checks moments"):
        onnx_reinit.verify(CNN, "identity")

    report = onnx_reinit.diff(CNN, fresh)
    # 64-bit integers are strings, as in protobuf's JSON (and the CLI's --json).
    assert int(report["differing"]) == len(initializers(CNN)) and int(report["identical"]) == 0
    assert int(onnx_reinit.diff(CNN, CNN)["differing"]) == 0


def test_verify_with_a_preset_checks_every_tensor_against_it():
    # torch_gpt2.onnx holds nanoGPT's own init: it fits gpt2, embeddings and biases included, not bert.
    gpt2 = TESTDATA / "torch_gpt2.onnx"
    passed = onnx_reinit.verify(gpt2, preset="gpt2")
    assert passed and passed.report["scheme"] == "preset gpt2"
    assert {"wte.weight", "onnx::MatMul_310"} <= {w["name"] for w in passed.weights}
    failed = onnx_reinit.verify(gpt2.read_bytes(), preset="bert")
    assert not failed and len(failed.findings) == 4  # the residual projections, N(0, 0.01) not N(0, 0.02)
    with pytest.warns(UserWarning, match="residual projections' rule"):
        onnx_reinit.verify(CNN, preset="gpt2")
    with pytest.raises(ValueError, match="not both"):
        onnx_reinit.verify(CNN, "he", preset="gpt2")


def test_stats_hash_is_the_sha256_of_the_raw_values():
    import hashlib
    expected = {name: hashlib.sha256(values.tobytes()).hexdigest() for name, values in initializers(CNN).items()}
    for row in onnx_reinit.stats(CNN, hash=True):
        assert row["sha256"] == expected[row["name"]]


def test_junit_reports_parse_as_junit_xml(tmp_path):
    import xml.etree.ElementTree as ElementTree
    fresh = tmp_path / "fresh.onnx"
    onnx_reinit.reinitialize_file(CNN, fresh, "he")
    float8 = TESTDATA / "malformed" / "float8_weight.onnx"
    cli = subprocess.run([CLI, "verify", fresh, CNN, float8, "--scheme", "he", "--junit", tmp_path / "cli.xml"],
                         capture_output=True, text=True)
    assert cli.returncode == 1, cli.stderr
    root = ElementTree.parse(tmp_path / "cli.xml").getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [str(fresh), str(CNN), str(float8)]
    for suite in suites:
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == len([c for c in cases if c.find("failure") is not None])
        assert int(suite.get("skipped")) == len([c for c in cases if c.find("skipped") is not None])
        assert all(c.get("classname") == suite.get("name") for c in cases)
    assert int(root.get("tests")) == sum(int(s.get("tests")) for s in suites)
    assert int(suites[0].get("failures")) == 0 and int(suites[1].get("failures")) == 4
    failure = suites[1].find("testcase/failure")
    assert failure.get("message").startswith("std ") and failure.text == failure.get("message")
    assert [c.get("name") for c in suites[2].findall("testcase")] == ["W", "(weights)"]

    result = onnx_reinit.verify(CNN, "he", junit=tmp_path / "py.xml")
    assert not result
    python_suite = ElementTree.parse(tmp_path / "py.xml").getroot().find("testsuite")
    python_suite.tail = suites[1].tail = None  # the whitespace after the element
    assert ElementTree.tostring(python_suite) == ElementTree.tostring(suites[1])
    assert result.github_annotations.count("::error file=") == 4


def test_every_function_is_documented_and_in_the_stub():
    stub = ast.parse((pathlib.Path(onnx_reinit.__file__).parent / "__init__.pyi").read_text())
    in_stub = {node.name for node in ast.walk(stub) if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    for name in onnx_reinit.__all__:
        if name == "__version__":
            continue
        assert getattr(onnx_reinit, name).__doc__, name
        assert name in in_stub, name
    assert "seed" in onnx_reinit.reinitialize.__doc__


def test_reinitialize_file_writes_the_clis_reports(tmp_path):
    onnx_reinit.reinitialize_file(CNN, tmp_path / "out.onnx", "he", report=tmp_path / "report.json")
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["tensors"][0]["after"]["count"] != "0"  # the JSON report carries the moments
    onnx_reinit.reinitialize_file(CNN, tmp_path / "out2.onnx", "he", report=tmp_path / "report.html")
    run_cli(CNN, "--scheme", "he", "-q", "-o", tmp_path / "cli.onnx", "--report", tmp_path / "cli.html")
    page = (tmp_path / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "Re-initialization of" in page
    # The same page as the CLI's, but for the output's name.
    assert page.replace("out2.onnx", "cli.onnx") == (tmp_path / "cli.html").read_text()


def test_bytes_errors_name_the_model():
    with pytest.raises(onnx_reinit.ModelError, match=r"^model: not an ONNX model"):
        onnx_reinit.stats(b"\xff" * 64)
    with pytest.raises(onnx_reinit.ModelError, match=r"^model: not an ONNX model"):
        onnx_reinit.diff(CNN, b"\xff" * 64)
