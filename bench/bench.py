#!/usr/bin/python3
"""Measures onnx-reinit against the goals of its performance issue, each against its baseline in
the same run.

Every round runs every selected command once, in turn, starting one command further on each round
(interleaved, so that drift in the machine's load hits all of them alike). Each row of the table
is a command against its baseline: medians and min-max over the rounds, the ratio of the medians
and the range of the per-round ratios, and the goal. The machine's load average is printed before
and after: figures from a loaded machine (load >= 0.5) are not idle figures, and goals checked on
one are unverified. Models are generated once into --workdir, without torch.

    bench/bench.py [--binary build/tools/onnx-reinit] [--write-floor build/bench/write_floor] [--rounds 9] [--workdir /tmp/onnx-reinit-bench]
                   [--only vgg,inspect,graph,python,files,big] [--cold-rounds 3] [--check] [--markdown]

Groups: vgg (re-initializing a VGG16-shaped model, 528 MiB, into a new file and over an existing
one, against cp and the write-only floor (build/bench/write_floor); --report FILE.html; peak RSS), inspect (stats, --hist,
--html, verify --spectral against cat), graph (a 40,000-node chain against a 10,000-node one),
python (reinitialize_file against the CLI), files (one external file per tensor against cp -r),
big (the 2.5 GiB one-file external-data model against cp of its data file: needs ~8 GiB of disk,
off by default). Cold-cache rows drop the page cache before every command (root only: the output
says when the machine does not allow it). --check exits 1 when a ratio misses its goal.

Needs Debian's python3-onnx and python3-numpy (to generate the models) and time (GNU time, for the
peak RSS).
"""
import argparse
import os
import shutil
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


def make_external_gemm_stack(path, layers, width, seed=0):
    """A model of `layers` Gemm layers of [width, width] float32 weights (transB=1), every weight
    N(0, 0.02) and in the data file path + ".data" (at 4096-aligned offsets)."""
    import numpy as np
    from onnx import TensorProto

    rng = np.random.default_rng(seed)
    data_name = os.path.basename(path) + ".data"
    initializers, offset = [], 0
    with open(path + ".data", "wb") as data:
        for i in range(layers):
            weight = (rng.standard_normal((width, width), dtype=np.float32) * np.float32(0.02)).tobytes()
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


def make_chain(path, nodes, width=8, seed=0):
    """A chain of `nodes` nodes: nodes/2 linear layers (MatMul by a [width, width] weight, then
    Add of a [width] bias), so as many initializers as nodes."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    graph_nodes, initializers, previous = [], [], "x"
    for i in range(nodes // 2):
        weight = numpy_helper.from_array(rng.standard_normal((width, width), dtype=np.float32), f"layer{i}.weight")
        bias = numpy_helper.from_array(np.zeros(width, np.float32), f"layer{i}.bias")
        initializers += [weight, bias]
        graph_nodes.append(helper.make_node("MatMul", [previous, weight.name], [f"mm{i}"], name=f"layer{i}.matmul"))
        graph_nodes.append(helper.make_node("Add", [f"mm{i}", bias.name], [f"h{i}"], name=f"layer{i}.add"))
        previous = f"h{i}"
    graph = helper.make_graph(
        graph_nodes, f"chain{nodes}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, width])],
        [helper.make_tensor_value_info(previous, TensorProto.FLOAT, [1, width])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path + ".tmp")
    os.replace(path + ".tmp", path)


def make_per_tensor_files(model_path, folder):
    """The model at `model_path` with every tensor of at least 1 KiB in a file of its own, as
    torch.onnx exports models over 2 GiB (vit_h_14, for instance): folder/model.onnx."""
    import onnx

    model = onnx.load(model_path)
    os.makedirs(folder + ".tmp", exist_ok=True)
    onnx.save_model(model, os.path.join(folder + ".tmp", "model.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=False, size_threshold=1024)
    os.replace(folder + ".tmp", folder)


def run(command):
    """Runs a command (a list, or a string for sh -c) with its output discarded; returns (seconds,
    CPU seconds (user and system), peak RSS in bytes). The CPU time and peak RSS come from GNU time:
    a child's own getrusage would also count the memory of the process that forked it."""
    if isinstance(command, str):
        command = ["sh", "-c", command]
    rss_file = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"bench-rss-{os.getpid()}")
    start = time.perf_counter()
    status = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", rss_file] + command,
                            stdout=subprocess.DEVNULL).returncode
    seconds = time.perf_counter() - start
    if status != 0:
        sys.exit(f"bench: command failed: {command}")
    with open(rss_file) as f:
        user, system, peak = f.read().split()[-3:]
        return seconds, float(user) + float(system), int(peak) * 1024


def remove(paths):
    for path in paths:
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)


def drop_page_cache():
    """Writes back dirty pages and drops the clean ones; False where the machine does not allow it."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("1")
        return True
    except OSError:
        return False


class Command:
    """A command timed in every round. `fresh`: files removed (untimed) before each run, so that
    it writes new ones; `existing`: (source, copy) pairs copied (untimed) before each run, so that
    it writes over them; `cold`: the page cache is dropped (untimed) before each run."""

    def __init__(self, label, command, fresh=(), existing=(), cold=False):
        self.label, self.command, self.fresh, self.existing, self.cold = label, command, fresh, existing, cold
        self.seconds, self.cpu_seconds, self.peak_rss = [], [], 0

    def prepare(self):
        remove(self.fresh)
        for source, copy in self.existing:
            shutil.copyfile(source, copy)
        if self.cold:
            drop_page_cache()

    def measure(self):
        self.prepare()
        seconds, cpu_seconds, peak = run(self.command)
        self.seconds.append(seconds)
        self.cpu_seconds.append(cpu_seconds)
        self.peak_rss = max(self.peak_rss, peak)

    def median(self):
        return statistics.median(self.seconds)


class Row:
    """One goal: `candidate`'s median time over `baseline`'s (a Command), or its peak RSS over a
    number of bytes (`baseline` an int), at most `goal` (None: shown, not a goal)."""

    def __init__(self, what, candidate, baseline, goal):
        self.what, self.candidate, self.baseline, self.goal = what, candidate, baseline, goal

    def ratio(self):
        if isinstance(self.baseline, int):
            return self.candidate.peak_rss / self.baseline
        return self.candidate.median() / self.baseline.median()

    def round_ratios(self):
        """The ratios of the same rounds (both commands ran one after the other)."""
        if isinstance(self.baseline, int):
            return [self.ratio()]
        return [c / b for c, b in zip(self.candidate.seconds, self.baseline.seconds)]

    UNSTABLE_SPREAD = 5.0  # a baseline whose slowest run took this many times its fastest measures nothing

    def baseline_spread(self):
        if isinstance(self.baseline, int):
            return 1.0
        return max(self.baseline.seconds) / min(self.baseline.seconds)

    def met(self):
        if self.goal is None:
            return True
        return self.baseline_spread() < self.UNSTABLE_SPREAD and self.ratio() <= self.goal


def seconds_range(command):
    """Wall time, median (min-max), and the median CPU time: on a loaded machine the CPU time of a
    command changes less than its wall time."""
    return (f"{command.median():.3f} ({min(command.seconds):.3f}-{max(command.seconds):.3f}), "
            f"CPU {statistics.median(command.cpu_seconds):.3f}")


def print_rows(rows, markdown, loaded):
    if markdown:
        print("| goal | command | median s (min-max), CPU s | baseline | median s (min-max), CPU s "
              "| ratio (per-round range) "
              "| goal | met |")
        print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        ratios = row.round_ratios()
        ratio = f"{row.ratio():.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"
        goal = "-" if row.goal is None else f"<= {row.goal:g}x"
        met = "-" if row.goal is None else ("yes" if row.met() else "NO")
        if loaded and row.goal is not None:  # a verdict needs an idle machine
            met = "within (loaded: unverified)" if row.met() else "missed (loaded)"
        if row.goal is not None and row.baseline_spread() >= Row.UNSTABLE_SPREAD:
            met = f"unverified: the baseline's runs vary {row.baseline_spread():.0f}x"
        if isinstance(row.baseline, int):
            candidate = f"peak RSS {row.candidate.peak_rss / 2**20:.0f} MiB"
            baseline, base_seconds = "model size", f"{row.baseline / 2**20:.0f} MiB"
            ratio = f"{row.ratio():.3f}x"
        else:
            candidate, baseline, base_seconds = seconds_range(row.candidate), row.baseline.label, seconds_range(
                row.baseline)
        if markdown:
            print(f"| {row.what} | `{row.candidate.label}` | {candidate} | `{baseline}` | {base_seconds} | {ratio} "
                  f"| {goal} | {met} |")
        else:
            print(f"\n{row.what}\n  {row.candidate.label:<60} {candidate}\n  {baseline:<60} {base_seconds}\n"
                  f"  ratio {ratio}, goal {goal}: {met}")


def load():
    return "load average %.2f %.2f %.2f" % os.getloadavg()


IDLE_LOAD = 0.5  # 1-minute load average before the timed runs
IDLE_OTHER_CORES = 0.25  # CPU that processes other than the benchmark's used during them, in cores


def settle(limit_seconds=180):
    """Waits (up to limit_seconds) for the 1-minute load average to fall below IDLE_LOAD: model
    generation and builds just before a run would otherwise count as load. Returns the seconds waited."""
    start = time.monotonic()
    while os.getloadavg()[0] >= IDLE_LOAD and time.monotonic() - start < limit_seconds:
        time.sleep(5)
    return time.monotonic() - start


def busy_cpu_seconds():
    """CPU time the whole machine spent busy (not idle, not waiting for I/O) since boot, from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    idle, iowait = fields[3], fields[4]
    return (sum(fields[:8]) - idle - iowait) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds():
    """CPU time of this process and of the commands it has run and waited for."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def generate(path, *arguments):
    """Generates a model in a child process, so that this process stays small while it times others."""
    if not os.path.exists(path):
        print(f"generating {path}", file=sys.stderr)
        subprocess.run([sys.executable, __file__, "--make"] + [str(a) for a in arguments], check=True)
    return path


def vgg_rows(binary, writer, work, model, cold):
    """Re-initialization of VGG16 into a new file and over an existing one, against cp and the
    write-only floor (`writer`, bench/write_floor: as many bytes, written from memory as onnx-reinit
    writes them); --report FILE.html; peak RSS."""
    size = os.path.getsize(model)
    out, html = os.path.join(work, "out.onnx"), os.path.join(work, "report.html")
    reinit = [binary, model, "--scheme", "he", "-o", out, "-q"]
    # Not dd from /dev/zero: see docs/benchmarks.md.
    floor = [writer, out, str(size)]
    new = dict(fresh=[out, html])
    over = dict(existing=[(model, out)])
    commands = {
        "cp": Command("cp MODEL OUT", ["cp", model, out], **new),
        "floor": Command("write_floor OUT (same bytes)", floor, **new),
        "reinit": Command("onnx-reinit MODEL --scheme he -o OUT", reinit, **new),
        "report": Command("onnx-reinit ... --report FILE.html", reinit + ["--report", html], **new),
        "cp over": Command("cp MODEL OUT (OUT exists)", ["cp", model, out], **over),
        "floor over": Command("write_floor OUT (OUT exists)", floor, **over),
        "reinit over": Command("onnx-reinit MODEL --scheme he -o OUT (OUT exists)", reinit, **over),
    }
    rows = [
        Row("re-initialize VGG16 into a new file vs cp", commands["reinit"], commands["cp"], 1.1),
        Row("... vs the write-only floor", commands["reinit"], commands["floor"], 1.05),
        Row("(the floor vs cp)", commands["floor"], commands["cp"], None),
        Row("re-initialize VGG16 over an existing file vs cp", commands["reinit over"], commands["cp over"], 1.1),
        Row("... vs the write-only floor", commands["reinit over"], commands["floor over"], 1.05),
        Row("--report FILE.html vs plain", commands["report"], commands["reinit"], 2.0),
        Row("peak RSS of the re-initialization vs the model", commands["reinit"], size, 0.05),
    ]
    if cold:
        cold_cp = Command("cp MODEL OUT (cold cache)", ["cp", model, out], cold=True, **new)
        cold_reinit = Command("onnx-reinit MODEL --scheme he -o OUT (cold cache)", reinit, cold=True, **new)
        commands.update({"cold cp": cold_cp, "cold reinit": cold_reinit})
        rows.append(Row("cold cache: re-initialize VGG16 vs cp", cold_reinit, cold_cp, None))
    return list(commands.values()), rows


def inspect_rows(binary, work, model, cold):
    """stats, --hist, --html and verify --spectral against reading the file."""
    html = os.path.join(work, "stats.html")
    cat = Command("cat MODEL > /dev/null", ["cat", model])
    stats = Command("onnx-reinit stats MODEL", [binary, "stats", model])
    hist = Command("onnx-reinit stats MODEL --hist", [binary, "stats", model, "--hist"])
    page = Command("onnx-reinit stats MODEL --html FILE", [binary, "stats", model, "--html", html], fresh=[html])
    spectral = Command("onnx-reinit verify MODEL --spectral",
                       [binary, "verify", model, "--scheme", "normal", "--std", "0.02", "--spectral"])
    commands = [cat, stats, hist, page, spectral]
    rows = [Row("stats vs cat", stats, cat, 1.3), Row("stats --hist vs cat", hist, cat, 2.0),
            Row("stats --html vs cat", page, cat, 2.0), Row("verify --spectral vs cat", spectral, cat, 4.0)]
    if cold:
        cold_cat = Command("cat MODEL > /dev/null (cold cache)", ["cat", model], cold=True)
        cold_stats = Command("onnx-reinit stats MODEL (cold cache)", [binary, "stats", model], cold=True)
        commands += [cold_cat, cold_stats]
        rows.append(Row("cold cache: stats vs cat", cold_stats, cold_cat, None))
    return commands, rows


CHAIN_NODES = (10000, 40000)


def graph_rows(binary, work):
    """The analysis of a chain of 40,000 nodes against one of 10,000 (a dry run: analysis and plan,
    nothing written)."""
    commands = []
    for nodes in CHAIN_NODES:
        chain = generate(os.path.join(work, f"chain{nodes}.onnx"), "chain", os.path.join(work, f"chain{nodes}.onnx"),
                         nodes)
        commands.append(Command(f"onnx-reinit CHAIN{nodes} --scheme he --dry-run -q",
                                [binary, chain, "--scheme", "he", "--dry-run", "-q"]))
    return commands, [Row("graph analysis: 40,000-node chain vs 10,000", commands[1], commands[0], 4.0)]


def python_rows(binary, work, model, python_path):
    out = os.path.join(work, "py_out.onnx")
    cli = Command("onnx-reinit MODEL --scheme he -o OUT", [binary, model, "--scheme", "he", "-o", out, "-q"],
                  fresh=[out])
    module = Command("python3: onnx_reinit.reinitialize_file(MODEL, OUT, 'he')",
                     f"PYTHONPATH='{python_path}' '{sys.executable}' -c \"import onnx_reinit; "
                     f"onnx_reinit.reinitialize_file('{model}', '{out}', 'he')\"", fresh=[out])
    return [cli, module], [Row("Python reinitialize_file vs the CLI (VGG16)", module, cli, 1.1)]


def files_rows(binary, work, model):
    """A model with one external file per tensor (as torch exports vit_h_14) against cp -r."""
    folder = os.path.join(work, "per_tensor")
    generate(folder, "per-tensor", model, folder)
    copy, out = os.path.join(work, "per_tensor_copy"), os.path.join(work, "per_tensor_out")
    cp = Command("cp -r FOLDER COPY", ["cp", "-r", folder, copy], fresh=[copy])
    reinit = Command("mkdir OUT && onnx-reinit FOLDER/model.onnx --scheme he -o OUT/model.onnx",
                     f"mkdir '{out}' && '{binary}' '{folder}/model.onnx' --scheme he -o '{out}/model.onnx' -q",
                     fresh=[out])
    return [cp, reinit], [Row("one external file per tensor (VGG16) vs cp -r", reinit, cp, 1.0)]


def big_rows(binary, work):
    big = os.path.join(work, "gemm_external_2560mb.onnx")  # 40 x 64 MiB in big.data
    generate(big, "external-gemm-stack", big, 40, 4096)
    out = os.path.join(work, "big_out.onnx")
    cp = Command("cp MODEL.data OUT.data", ["cp", big + ".data", out + ".data"], fresh=[out, out + ".data"])
    reinit = Command("onnx-reinit BIG --scheme he -o OUT", [binary, big, "--scheme", "he", "-o", out, "-q"],
                     fresh=[out, out + ".data"])
    return [cp, reinit], [Row("2.5 GiB one-file external-data model vs cp of its data file", reinit, cp, 1.2)]


def make(kind, *arguments):
    if kind == "vgg16":
        make_vgg16(arguments[0])
    elif kind == "chain":
        make_chain(arguments[0], int(arguments[1]))
    elif kind == "per-tensor":
        make_per_tensor_files(arguments[0], arguments[1])
    elif kind == "external-gemm-stack":
        make_external_gemm_stack(arguments[0], int(arguments[1]), int(arguments[2]))


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--make":
        make(*sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="build/tools/onnx-reinit")
    parser.add_argument("--write-floor", default="build/bench/write_floor",
                        help="the write-only floor (bench/write_floor.cc)")
    parser.add_argument("--python-path", default="build/python", help="where the onnx_reinit package is")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--cold-rounds", type=int, default=3,
                        help="rounds with the page cache dropped before each command (0: none)")
    parser.add_argument("--workdir", default="/tmp/onnx-reinit-bench")
    parser.add_argument("--only", default="vgg,inspect,graph,python,files",
                        help="comma-separated groups: vgg, inspect, graph, python, files, big (big: ~8 GiB of disk)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a ratio misses its goal")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    work = args.workdir
    os.makedirs(work, exist_ok=True)
    only = set(args.only.split(","))
    cold_allowed = drop_page_cache()
    cold = args.cold_rounds > 0 and cold_allowed

    model = generate(os.path.join(work, "vgg16.onnx"), "vgg16", os.path.join(work, "vgg16.onnx"))
    commands, rows = [], []
    for group, make_group in (
            ("vgg", lambda: vgg_rows(binary, os.path.abspath(args.write_floor), work, model, cold)),
            ("inspect", lambda: inspect_rows(binary, work, model, cold)),
            ("graph", lambda: graph_rows(binary, work)),
            ("python", lambda: python_rows(binary, work, model, os.path.abspath(args.python_path))),
            ("files", lambda: files_rows(binary, work, model)),
            ("big", lambda: big_rows(binary, work))):
        if group in only:
            group_commands, group_rows = make_group()
            commands += group_commands
            rows += group_rows
    if "big" in only:
        free = shutil.disk_usage(work).free
        if free < 6 << 30:
            sys.exit(f"bench: the big group needs ~6 GiB free in {work} beyond its model; {free / 2**30:.1f} GiB free")

    warm, cold_commands = [c for c in commands if not c.cold], [c for c in commands if c.cold]
    waited = settle()
    load_before = load()
    busy_before, own_before, wall_before = busy_cpu_seconds(), own_cpu_seconds(), time.monotonic()
    print(f"onnx-reinit bench, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
          f"{load_before}")
    print(f"VGG16-shaped model: {os.path.getsize(model) / 2**20:.0f} MiB; {args.rounds} rounds warm (after one "
          f"warm-up run each), " + (
              f"{args.cold_rounds} rounds cold (page cache dropped before each command)" if cold else
              "no cold-cache rows: --cold-rounds 0" if cold_allowed else
              "no cold-cache rows: this machine does not let us drop the page cache (/proc/sys/vm/drop_caches "
              "needs root)"))
    for command in warm:  # warm-up: page cache and binaries
        command.prepare()
        run(command.command)
    for rounds, timed in ((args.rounds, warm), (args.cold_rounds, cold_commands)):
        for r in range(rounds):
            start = r % len(timed) if timed else 0
            for command in timed[start:] + timed[:start]:
                command.measure()
    per_node = None
    graph = [row for row in rows if row.what.startswith("graph analysis")]
    if graph:
        small, large = graph[0].baseline, graph[0].candidate
        per_node = (large.median() - small.median()) / (CHAIN_NODES[1] - CHAIN_NODES[0])
    load_after = load()
    # The benchmark's own commands raise the load average, so the machine counts as idle when it was
    # idle before and nothing else used the CPU meanwhile (kernel threads, e.g. writeback of our
    # files, count as others).
    wall = time.monotonic() - wall_before
    other_cores = max(0.0, (busy_cpu_seconds() - busy_before) - (own_cpu_seconds() - own_before)) / wall
    loaded = float(load_before.split()[2]) >= IDLE_LOAD or other_cores >= IDLE_OTHER_CORES
    print_rows(rows, args.markdown, loaded)
    if per_node is not None:
        print(f"\ngraph analysis: {per_node * 1e6:.1f} us per node (the 30,000 nodes between the two chains)")
    print(f"\nbefore: {load_before} (after waiting {waited:.0f} s for it to settle); after: {load_after}; "
          f"other processes used {other_cores:.2f} cores on average during the {wall:.0f} s of runs")
    if loaded:
        print(f"LOADED MACHINE (1-minute load >= {IDLE_LOAD} before the runs, or others using >= "
              f"{IDLE_OTHER_CORES} cores during them): these are not idle figures, and the goals are unverified")
    missed = [row.what for row in rows if not row.met()]
    print(f"{len(rows) - len(missed)} of {len(rows)} rows within their goals" +
          (f"; missed: {'; '.join(missed)}" if missed else ""))
    if args.check and missed:
        sys.exit(1)


if __name__ == "__main__":
    main()
