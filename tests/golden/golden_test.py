#!/usr/bin/env python3
"""Golden bytes: the SHA-256 of what the CLI writes for fixed runs on testdata fixtures.

This pins the output bytes absolutely (the other tests pin them only relative to each other:
thread counts, SIMD targets, paths). A change here is a change of every user's results for the same
seed, so it is made on purpose: update the hashes with --update and record why in NEWS.md.

Usage: golden_test.py CLI TESTDATA_DIR WORK_DIR [--update]
"""
import hashlib
import pathlib
import shutil
import subprocess
import sys

HASHES = pathlib.Path(__file__).with_name("hashes.txt")

# name: (fixture, arguments after the input, output files to hash). "OUT" is the output model.
CASES = {
    "cnn_he": ("torch_cnn.onnx", ["--scheme", "he", "-o", "OUT"], ["OUT"]),
    "cnn_he_uniform_seed7": ("torch_cnn.onnx", ["--scheme", "he_uniform", "--seed", "7", "-o", "OUT"], ["OUT"]),
    "cnn_torch_one_thread": ("torch_cnn.onnx", ["--scheme", "torch", "--threads", "1", "-o", "OUT"], ["OUT"]),
    "lstm_he_orthogonal_recurrence": ("torch_lstm_text.onnx", ["--scheme", "he", "--seed", "3", "-o", "OUT"], ["OUT"]),
    "gru_nofold_xavier_forget": ("torch_gru_text_nofold.onnx", ["--scheme", "xavier_uniform", "-o", "OUT"], ["OUT"]),
    "lstm_nofold_forget_bias": ("torch_lstm_text_nofold.onnx",
                                ["--scheme", "he", "--lstm-forget-bias", "1", "-o", "OUT"], ["OUT"]),
    "transformer_torch": ("torch_transformer.onnx", ["--scheme", "torch", "--seed", "11", "-o", "OUT"], ["OUT"]),
    "vit_trunc_normal": ("torch_vit.onnx", ["--scheme", "trunc_normal", "--std", "0.02", "-o", "OUT"], ["OUT"]),
    "dtypes_fp16_bf16_f64": ("dtypes.onnx", ["--scheme", "lecun_uniform", "-o", "OUT"], ["OUT"]),
    "qdq_requantize": ("quantized_qdq.onnx", ["--scheme", "he", "--requantize", "-o", "OUT"], ["OUT"]),
    "qoperator_requantize": ("quantized_qoperator.onnx", ["--scheme", "he", "--requantize", "-o", "OUT"], ["OUT"]),
    "cnn_external_data": ("torch_cnn.onnx",
                          ["--scheme", "he", "--external-data", "--size-threshold", "64", "-o", "OUT"],
                          ["OUT", "OUT.data"]),
    "mlp_untie_rules": ("torch_tied_matmul.onnx",
                        ["--scheme", "xavier_normal", "--untie", "--rule", "role:bias=normal:std=0.5", "-o", "OUT"],
                        ["OUT"]),
}
# name: (fixture, stats arguments): the JSON on stdout is hashed.
STATS_CASES = {
    "stats_json_cnn": ("torch_cnn.onnx", ["--json"]),
    "stats_json_lstm_he": ("torch_lstm_text.onnx", ["--json", "--scheme", "he"]),
    "stats_json_qdq_hist": ("quantized_qdq.onnx", ["--json", "--hist"]),
}


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def run(cli, arguments, cwd):
    result = subprocess.run([cli, *arguments], cwd=cwd, capture_output=True)
    if result.returncode != 0:
        sys.exit(f"golden: {' '.join(arguments)} failed ({result.returncode}): {result.stderr.decode()}")
    return result.stdout


def compute(cli, testdata, work):
    hashes = {}
    for name, (fixture, arguments, outputs) in CASES.items():
        folder = work / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        shutil.copy(testdata / fixture, folder / fixture)
        run(cli, [fixture, "-q", *[a.replace("OUT", "out.onnx") for a in arguments]], folder)
        for output in outputs:
            file = output.replace("OUT", "out.onnx")
            hashes[f"{name}:{file}"] = sha256((folder / file).read_bytes())
    for name, (fixture, arguments) in STATS_CASES.items():
        folder = work / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        shutil.copy(testdata / fixture, folder / fixture)
        hashes[name] = sha256(run(cli, ["stats", fixture, *arguments], folder))
    return hashes


def main():
    cli, testdata, work = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
    update = "--update" in sys.argv[4:]
    hashes = compute(cli, testdata, work)
    if update:
        HASHES.write_text("".join(f"{value}  {key}\n" for key, value in sorted(hashes.items())))
        print(f"golden: wrote {len(hashes)} hashes to {HASHES}")
        return
    expected = {}
    for line in HASHES.read_text().splitlines():
        value, key = line.split("  ", 1)
        expected[key] = value
    changed = sorted(k for k in expected.keys() | hashes.keys() if expected.get(k) != hashes.get(k))
    for key in changed:
        print(f"golden: {key}: expected {expected.get(key, '(none)')}, got {hashes.get(key, '(none)')}")
    if changed:
        sys.exit(f"golden: {len(changed)} of {len(expected)} outputs changed. If that is deliberate, run "
                 "tests/golden/golden_test.py CLI TESTDATA WORK --update and say why in NEWS.md.")
    print(f"golden: {len(hashes)} outputs have their pinned bytes")


if __name__ == "__main__":
    main()
