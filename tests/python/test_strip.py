"""Seeded weightless models through the CLI and the module: strip, then materialize bit for bit."""
import os
import pathlib
import subprocess

import numpy as np
import onnx
import onnx.checker
import onnx.mapping
import pytest

import onnx_reinit

TESTDATA = pathlib.Path(os.environ["TESTDATA_DIR"])
CLI = os.environ["ONNX_REINIT_BINARY"]
RECIPE = ["--scheme", "he", "--seed", "7", "--rule", "role:bias=normal:std=0.01"]
KWARGS = dict(scheme="he", seed=7, rules="role:bias=normal:std=0.01")


def run(*args):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)


def direct_run(tmp_path, fixture, *layout):
    (tmp_path / "direct").mkdir()
    out = tmp_path / "direct" / "out.onnx"
    assert run(TESTDATA / fixture, *RECIPE, *layout, "-o", out, "-q").returncode == 0
    return out


@pytest.mark.parametrize("fixture", ["torch_transformer.onnx", "torch_lstm_text.onnx", "dtypes.onnx"])
@pytest.mark.parametrize("layout", [[], ["--external-data", "--size-threshold", "64"]])
def test_the_cli_materializes_the_bytes_of_a_direct_run(tmp_path, fixture, layout):
    direct = direct_run(tmp_path, fixture, *layout)
    small = tmp_path / "small.onnx"
    stripped = run("strip", TESTDATA / fixture, *RECIPE, "-o", small)
    assert stripped.returncode == 0, stripped.stderr
    assert "--materialize" in stripped.stdout
    (tmp_path / "full").mkdir()
    full = tmp_path / "full" / "out.onnx"
    materialized = run(small, "--materialize", *layout, "-o", full, "-q")
    assert materialized.returncode == 0, materialized.stderr
    assert full.read_bytes() == direct.read_bytes()
    data = pathlib.Path(str(direct) + ".data")
    assert pathlib.Path(str(full) + ".data").exists() == data.exists()
    if data.exists():
        assert pathlib.Path(str(full) + ".data").read_bytes() == data.read_bytes()


def test_the_module_strips_and_materializes_as_the_cli(tmp_path):
    direct = direct_run(tmp_path, "torch_vit.onnx")
    report = onnx_reinit.strip_file(TESTDATA / "torch_vit.onnx", tmp_path / "small.onnx", **KWARGS)
    assert "conv_proj.weight" in report["stripped"]
    assert report["stripped_bytes"] > 0
    (tmp_path / "full").mkdir()
    onnx_reinit.reinitialize_file(tmp_path / "small.onnx", tmp_path / "full" / "out.onnx", materialize=True)
    assert (tmp_path / "full" / "out.onnx").read_bytes() == direct.read_bytes()
    assert (tmp_path / "small.onnx").stat().st_size * 5 < (TESTDATA / "torch_vit.onnx").stat().st_size


def reconstructed(model):
    """The model with every weightless tensor given values, as Polygraphy's weight-reconstruct does."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for tensor in copy.graph.initializer:
        if tensor.doc_string.startswith("TRT_WEIGHTLESS"):
            array = np.random.default_rng(0).standard_normal(tuple(tensor.dims))
            tensor.raw_data = array.astype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[tensor.data_type]).tobytes()
    return copy


def test_a_stripped_model_carries_polygraphys_marks_and_is_otherwise_what_the_onnx_checker_accepts(tmp_path):
    report = onnx_reinit.strip_file(TESTDATA / "torch_cnn.onnx", tmp_path / "small.onnx", **KWARGS)
    model = onnx.load(str(tmp_path / "small.onnx"))
    # The checker wants a value in every tensor, so it refuses any weight-stripped model (Polygraphy's
    # too); with the values reconstructed, it accepts it.
    with pytest.raises(onnx.checker.ValidationError, match="one and only one value field"):
        onnx.checker.check_model(model)
    onnx.checker.check_model(reconstructed(model))
    assert model.doc_string.endswith("TRT_WEIGHTLESS")
    marked = {t.name for t in model.graph.initializer if t.doc_string.startswith("TRT_WEIGHTLESS")}
    assert marked == set(report["stripped"])
    original = {t.name: t for t in onnx.load(str(TESTDATA / "torch_cnn.onnx")).graph.initializer}
    for tensor in model.graph.initializer:
        if tensor.name not in marked:
            continue
        # What Polygraphy's weight-reconstruct reads: the mark and the sparsity around one '/', empty
        # raw_data, the dims and data type of the original.
        mark, sparsity = tensor.doc_string.split("/")
        assert (mark, sparsity) == ("TRT_WEIGHTLESS", "")
        assert tensor.HasField("raw_data") and tensor.raw_data == b""
        assert list(tensor.dims) == list(original[tensor.name].dims)
        assert tensor.data_type == original[tensor.name].data_type
    props = {p.key: p.value for p in model.metadata_props}
    assert 'scheme: "he"' in props["onnx_reinit.strip.recipe"]
    assert props["onnx_reinit.strip.tensor.fc.weight"].startswith("sha256=")


def test_a_changed_hash_is_refused_naming_the_tensor_and_nothing_is_written(tmp_path):
    onnx_reinit.strip_file(TESTDATA / "torch_cnn.onnx", tmp_path / "small.onnx", **KWARGS)
    model = onnx.load(str(tmp_path / "small.onnx"))
    for prop in model.metadata_props:
        if prop.key == "onnx_reinit.strip.tensor.fc.weight":
            digits = prop.value[len("sha256="):]
            prop.value = "sha256=" + ("1" if digits[0] == "0" else "0") + prop.value[len("sha256=") + 1:]
    onnx.save(model, str(tmp_path / "small.onnx"))
    with pytest.raises(onnx_reinit.ModelError, match="tensor 'fc.weight'"):
        onnx_reinit.reinitialize_file(tmp_path / "small.onnx", tmp_path / "full.onnx", materialize=True)
    refused = run(tmp_path / "small.onnx", "--materialize", "-o", tmp_path / "full.onnx")
    assert refused.returncode == 1
    assert "tensor 'fc.weight'" in refused.stderr and "SHA-256" in refused.stderr
    assert not (tmp_path / "full.onnx").exists()


def test_options_that_change_values_are_refused_when_materializing(tmp_path):
    onnx_reinit.strip_file(TESTDATA / "torch_cnn.onnx", tmp_path / "small.onnx", **KWARGS)
    with pytest.raises(ValueError, match="carries its recipe"):
        onnx_reinit.reinitialize_file(tmp_path / "small.onnx", tmp_path / "full.onnx", materialize=True, seed=3)
    refused = run(tmp_path / "small.onnx", "--materialize", "--scheme", "xavier", "-o", tmp_path / "full.onnx")
    assert refused.returncode == 2 and "carries its recipe" in refused.stderr
