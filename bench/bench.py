#!/usr/bin/python3
"""Benchmarks onnx-reinit against baselines measured in the same run.

Each round runs every command of a scenario once, in turn (interleaved, so that drift in machine
load hits all of them alike); the table shows medians over the rounds, the ratio to the scenario's
baseline, and each command's peak RSS. Models are generated once into --workdir.

    bench/bench.py [--binary build/tools/onnx-reinit] [--rounds 5] [--workdir /tmp/onnx-reinit-bench]
                   [--only reinit,fsync,stats,big]
    bench/bench.py --python [--python-path build/python]   # the Python module against the CLI

Needs Debian's python3-onnx and python3-numpy (to generate the models) and time (GNU time, for the
peak RSS).
"""
import argparse
import os
import statistics
import subprocess
import sys
import time


def gemm_stack_model(initializers, width, name):
    """A model chaining one Gemm (transB=1) per initializer, each [width, width] float32."""
    from onnx import TensorProto, helper

    nodes, previous = [], "x"
    for i, weight in enumerate(initializers):
        nodes.append(helper.make_node("Gemm", [previous, weight.name], [f"h{i}"], transB=1))
        previous = f"h{i}"
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, width])],
        [helper.make_tensor_value_info(previous, TensorProto.FLOAT, [1, width])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


# VGG16 (configuration D of Simonyan & Zisserman): 13 3x3 convolutions, then 3 fully connected layers.
VGG16_CONVS = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def make_vgg16(path, seed=0):
    """A VGG16-shaped model: 138 M float32 weights (528 MiB), weights ~N(0, 0.02), biases zero."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes, initializers, previous, channels = [], [], "x", 3

    def parameters(name, shape):
        weight = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)
        initializers.append(numpy_helper.from_array(weight, f"{name}.weight"))
        initializers.append(numpy_helper.from_array(np.zeros(shape[0], np.float32), f"{name}.bias"))
        return [f"{name}.weight", f"{name}.bias"]

    for i, layer in enumerate(VGG16_CONVS):
        if layer == "M":
            nodes.append(helper.make_node("MaxPool", [previous], [f"pool{i}"], kernel_shape=[2, 2], strides=[2, 2]))
            previous = f"pool{i}"
            continue
        nodes.append(helper.make_node("Conv", [previous] + parameters(f"features.{i}", (layer, channels, 3, 3)),
                                      [f"conv{i}"], pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Relu", [f"conv{i}"], [f"relu{i}"]))
        previous, channels = f"relu{i}", layer
    nodes.append(helper.make_node("Flatten", [previous], ["flat"]))
    previous = "flat"
    for i, (fan_in, fan_out) in enumerate([(512 * 7 * 7, 4096), (4096, 4096), (4096, 1000)]):
        nodes.append(helper.make_node("Gemm", [previous] + parameters(f"classifier.{i}", (fan_out, fan_in)),
                                      [f"fc{i}"], transB=1))
        previous = f"fc{i}"
        if i < 2:
            nodes.append(helper.make_node("Relu", [previous], [f"fc_relu{i}"]))
            previous = f"fc_relu{i}"
    graph = helper.make_graph(
        nodes, "vgg16",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 224, 224])],
        [helper.make_tensor_value_info(previous, TensorProto.FLOAT, [1, 1000])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    tmp = path + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, path)


def make_external_gemm_stack(path, layers, width, seed=0, trained_like=False):
    """A model of `layers` Gemm layers of [width, width] float32 weights (transB=1), every weight in
    the data file path + ".data" (at 4096-aligned offsets): fresh N(0, 0.02) draws, or with
    `trained_like` draws plus a rank-4 structure, rescaled to std 0.02 (a trained matrix's outlying
    singular values with a fresh one's moments)."""
    import numpy as np
    from onnx import TensorProto

    rng = np.random.default_rng(seed)
    data_name = os.path.basename(path) + ".data"
    initializers, offset = [], 0
    with open(path + ".data", "wb") as data:
        for i in range(layers):
            weight = rng.standard_normal((width, width), dtype=np.float32)
            if trained_like:
                structure = rng.standard_normal((width, 4), dtype=np.float32) @ rng.standard_normal(
                    (4, width), dtype=np.float32)
                weight += np.float32(0.5) * structure
                weight *= np.float32(1 / weight.std())
            weight = (weight * np.float32(0.02)).tobytes()
            offset = (offset + 4095) // 4096 * 4096
            data.seek(offset)
            data.write(weight)
            tensor = TensorProto()
            tensor.name = f"layer{i}.weight"
            tensor.data_type = TensorProto.FLOAT
            tensor.dims.extend([width, width])
            tensor.data_location = TensorProto.EXTERNAL
            for key, value in (("location", data_name), ("offset", str(offset)), ("length", str(len(weight)))):
                entry = tensor.external_data.add()
                entry.key, entry.value = key, value
            offset += len(weight)
            initializers.append(tensor)
    with open(path, "wb") as f:
        f.write(gemm_stack_model(initializers, width, "gemm_stack_external").SerializeToString())


def run(command, shell=False):
    """Runs a command with its output discarded; returns (seconds, peak RSS in bytes).

    The peak RSS comes from GNU time (Debian package `time`): a child's own getrusage would also
    count the memory of the process that forked it."""
    if shell:
        command = ["sh", "-c", command]
    rss_file = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"bench-rss-{os.getpid()}")
    start = time.perf_counter()
    status = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file] + command,
                            stdout=subprocess.DEVNULL).returncode
    seconds = time.perf_counter() - start
    if status != 0:
        sys.exit(f"bench: command failed: {command}")
    with open(rss_file) as f:
        return seconds, int(f.read().split()[-1]) * 1024


def remove(paths):
    for path in paths:
        if os.path.exists(path):
            os.remove(path)


def scenario(title, commands, rounds, outputs=()):
    """commands: [(label, command, shell)], the first is the baseline. Output goes to /dev/null.

    The files in `outputs` are deleted (untimed) before every command, so that each command writes
    new files, as on a first run. (Overwriting instead favours cp: it truncates the old file and
    reuses its page-cache pages at once, while onnx-reinit writes a new file and renames it over
    the old one only at the end - on this VM fresh pages cost several times more.)"""
    times = {label: [] for label, _, _ in commands}
    peaks = {label: 0 for label, _, _ in commands}
    for label, command, shell in commands:  # warm-up: page cache and binaries
        remove(outputs)
        run(command, shell)
    for _ in range(rounds):
        for label, command, shell in commands:
            remove(outputs)
            seconds, peak = run(command, shell)
            times[label].append(seconds)
            peaks[label] = max(peaks[label], peak)
    baseline = statistics.median(times[commands[0][0]])
    print(f"\n{title} (median of {rounds} interleaved rounds)")
    print(f"  {'command':<44} {'median s':>9} {'ratio':>7} {'peak RSS':>10}")
    for label, _, _ in commands:
        median = statistics.median(times[label])
        print(f"  {label:<44} {median:>9.3f} {median / baseline:>6.2f}x {peaks[label] / 2**20:>7.0f} MiB")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--make-vgg16":
        make_vgg16(sys.argv[2])
        return
    if len(sys.argv) in (5, 6) and sys.argv[1] == "--make-external-gemm-stack":
        make_external_gemm_stack(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
                                 trained_like=sys.argv[5:] == ["trained-like"])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="build/tools/onnx-reinit")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workdir", default="/tmp/onnx-reinit-bench")
    parser.add_argument("--big-rounds", type=int, default=1,
                        help="rounds for the > 2 GiB external-data model (0 skips it)")
    parser.add_argument("--only", default="reinit,fsync,stats,big",
                        help="comma-separated scenarios to run: reinit, fsync, stats, big")
    parser.add_argument("--python", action="store_true",
                        help="only the Python module's scenarios (call overhead; reinitialize_file's memory)")
    parser.add_argument("--python-path", default="build/python", help="where the onnx_reinit package is")
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    os.makedirs(args.workdir, exist_ok=True)
    if args.python:
        python_scenarios(binary, os.path.abspath(args.python_path), args)
        return

    model = os.path.join(args.workdir, "vgg16.onnx")  # 138 M float32 weights: 528 MiB
    if not os.path.exists(model):
        print(f"generating {model}", file=sys.stderr)
        # In a child process, so that this process stays small while it times the others.
        subprocess.run([sys.executable, __file__, "--make-vgg16", model], check=True)
    size = os.path.getsize(model)
    print(f"model: {model} ({size / 2**20:.0f} MiB), {os.cpu_count()} cores")

    only = set(args.only.split(","))
    output = os.path.join(args.workdir, "out.onnx")
    html = os.path.join(args.workdir, "report.html")
    numpy_script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "numpy_reinit.py")
    if "reinit" in only:
        scenario("re-initialize (he) vs copying the file", [
            ("cp MODEL OUT", ["cp", model, output], False),
            ("onnx-reinit MODEL --scheme he -o OUT", [binary, model, "--scheme", "he", "-o", output, "-q"], False),
            ("onnx-reinit ... --scheme he_uniform", [binary, model, "--scheme", "he_uniform", "-o", output, "-q"],
             False),
            ("onnx-reinit ... --scheme he --threads 1", [binary, model, "--scheme", "he", "-o", output, "-q",
                                                         "--threads", "1"], False),
            ("onnx + numpy script (bench/numpy_reinit.py)", [sys.executable, numpy_script, model, output], False),
        ], args.rounds, outputs=[output])

    if "fsync" in only:
        scenario("durable writes (--fsync) vs copying and flushing the file", [
            ("cp MODEL OUT && sync OUT", f"cp '{model}' '{output}' && sync '{output}'", True),
            ("onnx-reinit MODEL --scheme he -o OUT --fsync", [binary, model, "--scheme", "he", "-o", output, "-q",
                                                              "--fsync"], False),
        ], args.rounds, outputs=[output])

    if "stats" in only:
        scenario("stats vs reading the file", [
            ("cat MODEL > /dev/null", ["cat", model], False),
            ("onnx-reinit stats MODEL", [binary, "stats", model], False),
            ("onnx-reinit stats MODEL --threads 1", [binary, "stats", model, "--threads", "1"], False),
            ("onnx-reinit stats MODEL --hist", [binary, "stats", model, "--hist"], False),
            ("onnx-reinit stats MODEL --html FILE", [binary, "stats", model, "--html", html], False),
            ("onnx-reinit stats MODEL --spectral", [binary, "stats", model, "--spectral"], False),
            ("onnx-reinit verify MODEL --spectral", [binary, "verify", model, "--scheme", "normal", "--std", "0.02",
                                                      "--spectral"], False),
        ], args.rounds, outputs=[html])

    if "big" in only and args.big_rounds > 0:
        big_scenarios(binary, args)


def big_scenarios(binary, args):
    """The 2.5 GiB external-data model: re-initialized (with and without the HTML report) and
    inspected. verify must pass on the original (fresh N(0, 0.02) draws) and on the he output."""
    big = big_external_model(args.workdir)
    size = os.path.getsize(big + ".data")
    print(f"\nexternal-data model: {big} ({size / 2**30:.2f} GiB of weights in {os.path.basename(big)}.data)")
    big_out = os.path.join(args.workdir, "big_out.onnx")
    html = os.path.join(args.workdir, "big_report.html")
    scenario("> 2 GiB model with external data", [
        ("cp MODEL.data OUT.data", ["cp", big + ".data", big_out + ".data"], False),
        ("onnx-reinit MODEL --scheme he -o OUT", [binary, big, "--scheme", "he", "-o", big_out, "-q"], False),
        ("onnx-reinit ... --report FILE.html", [binary, big, "--scheme", "he", "-o", big_out, "-q",
                                                "--report", html], False),
    ], args.big_rounds, outputs=[big_out, big_out + ".data", html])

    he = os.path.join(args.workdir, "big_he.onnx")  # what verify checks after a re-initialization
    if not os.path.exists(he):
        run([binary, big, "--scheme", "he", "-o", he, "-q"])
    scenario("> 2 GiB model with external data: inspection", [
        ("cat MODEL.data > /dev/null", ["cat", big + ".data"], False),
        ("onnx-reinit stats MODEL", [binary, "stats", big], False),
        ("onnx-reinit stats MODEL --html FILE", [binary, "stats", big, "--html", html], False),
        ("onnx-reinit stats MODEL --spectral", [binary, "stats", big, "--spectral"], False),
        ("onnx-reinit verify MODEL --spectral", [binary, "verify", big, "--scheme", "normal", "--std",
                                                              "0.02", "--spectral"], False),
        ("onnx-reinit verify OUT --spectral (he)", [binary, "verify", he, "--scheme", "he", "--spectral"],
         False),
    ], args.big_rounds, outputs=[html])

    trained = big_external_model(args.workdir, trained_like=True)
    print("\n> 2 GiB model with trained-like weights (rank 4 plus noise, rescaled to std 0.02)")
    fresh_std = ["--scheme", "normal", "--std", "0.02"]
    check_verdict([binary, "verify", trained] + fresh_std, 0, "verify passes it on the moments alone")
    check_verdict([binary, "verify", trained] + fresh_std + ["--spectral"], 1, "verify --spectral fails it")


def big_external_model(workdir, trained_like=False):
    name = "gemm_external_2560mb_trained_like.onnx" if trained_like else "gemm_external_2560mb.onnx"
    big = os.path.join(workdir, name)  # 40 x 64 MiB in big.data
    if not os.path.exists(big):  # written last, after its data file
        print(f"generating {big} and its data file", file=sys.stderr)
        subprocess.run([sys.executable, __file__, "--make-external-gemm-stack", big, "40", "4096"] +
                       (["trained-like"] if trained_like else []), check=True)
    return big


def check_verdict(command, expected_status, what):
    """Runs a verify command untimed and exits unless its status is the expected one."""
    status = subprocess.run(command, stdout=subprocess.DEVNULL).returncode
    if status != expected_status:
        sys.exit(f"bench: {what}: exit status {status}, expected {expected_status}: {command}")
    print(f"  ok: {what}")


def python_scenarios(binary, python_path, args):
    """The module's cost over the CLI's: per call on a small model, and reinitialize_file's memory."""
    small = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testdata", "torch_cnn.onnx")
    output = os.path.join(args.workdir, "small_out.onnx")
    env_python = f"PYTHONPATH={python_path} {sys.executable}"
    scenario("small model (torch_cnn.onnx, 554 values): a CLI run vs a Python process", [
        ("onnx-reinit MODEL --scheme he -o OUT", [binary, small, "--scheme", "he", "-o", output, "-q"], False),
        ("python3: import onnx_reinit; reinitialize_file",
         f"{env_python} -c \"import onnx_reinit; onnx_reinit.reinitialize_file('{small}', '{output}', 'he')\"",
         True),
        ("python3: import onnx, onnx_reinit; reinitialize(ModelProto)",
         f"{env_python} -c \"import onnx, onnx_reinit; onnx_reinit.reinitialize(onnx.load('{small}'), 'he')\"",
         True),
    ], args.rounds, outputs=[output])

    # In one process: the call itself, against the CLI's whole run measured above.
    sys.path.insert(0, python_path)
    import onnx
    import onnx_reinit
    model = onnx.load(small)
    data = model.SerializeToString()
    calls = {
        "reinitialize(ModelProto)": lambda: onnx_reinit.reinitialize(model, "he"),
        "reinitialize(bytes)": lambda: onnx_reinit.reinitialize(data, "he"),
        "reinitialize(bytes, statistics=False)": lambda: onnx_reinit.reinitialize(data, "he", statistics=False),
        "reinitialize_file": lambda: onnx_reinit.reinitialize_file(small, output, "he"),
    }
    cli = statistics.median(run([binary, small, "--scheme", "he", "-o", output, "-q"])[0] for _ in range(args.rounds))
    print(f"\n  in-process calls on the small model (median of 200), against a CLI run ({cli * 1e3:.2f} ms)")
    for label, call in calls.items():
        times = []
        for _ in range(200):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        print(f"  {label:<44} {median * 1e3:>7.3f} ms {median / cli:>6.3f}x")

    big = big_external_model(args.workdir)
    big_out = os.path.join(args.workdir, "big_out.onnx")
    scenario("> 2 GiB model with external data: the CLI vs reinitialize_file", [
        ("onnx-reinit MODEL --scheme he -o OUT", [binary, big, "--scheme", "he", "-o", big_out, "-q"], False),
        ("python3: reinitialize_file(MODEL, OUT, 'he')",
         f"{env_python} -c \"import onnx_reinit; onnx_reinit.reinitialize_file('{big}', '{big_out}', 'he')\"",
         True),
    ], max(args.big_rounds, 1), outputs=[big_out, big_out + ".data"])


if __name__ == "__main__":
    main()
