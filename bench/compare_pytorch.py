#!/usr/bin/env python3
"""Training speed and memory of clgrad against PyTorch 2.x, PyTorch 1.13 and JAX.

Trains the three Fashion-MNIST networks of clgrad-train in four frameworks on the same data,
batch size and optimizer, interleaved (every framework once, then again, --repeat times, so a
change in the machine's load hits all of them alike), and prints a markdown table of samples
per second (the best of the repeats), each framework's ratio to clgrad, and the memory used:

  * clgrad:       clgrad-train on its default OpenCL device (or --device),
  * PyTorch 2.x:  the current torch from PyPI, in a virtual environment (--venv),
  * PyTorch 1.13: Debian's python3-torch under /usr/bin/python3, OPENBLAS_NUM_THREADS=1
                  (faster than its default BLAS threading on small machines),
  * JAX:          the current jax from PyPI, in the same virtual environment; the whole
                  training step is one jit-compiled function.

Networks (as in clgrad-train --model):
  cnn:   conv(1->32, 3x3, pad 1)-ReLU-maxpool2-conv(32->64, 3x3, pad 1)-ReLU-maxpool2-
         linear(3136->128)-ReLU-linear(128->10); SGD momentum 0.9, lr 0.01
  lstm:  LSTM over the 28 rows of an image (input 28, hidden 128), linear(128->10) on the
         last hidden state; Adam lr 1e-3
  mlp:   linear(784->256)-ReLU-linear(256->128)-ReLU-linear(128->10); SGD momentum 0.9, lr 0.01

The timed region is the same everywhere: every training step after the first (which builds
kernels, compiles the jit function or warms caches) up to the end of the epoch (or --batches),
each step being the batch's data handling (gathering the shuffled samples from the uint8
images, converting and normalising them, handing them to the framework), forward, loss,
backward, optimizer step and reading the loss back to the host. clgrad-train's samples/s
covers exactly that. Every framework is limited to --threads threads (CPU affinity, the
frameworks' thread settings, and POCL_MAX_PTHREAD_COUNT for clgrad on PoCL).

Memory: "peak RSS" is the process's peak resident set (getrusage of the finished child for
clgrad, the worker's own for the others). "device memory" is, for clgrad, the most the
buffer pool held (device buffers; on a CPU device they live in host memory), and for PyTorch
and JAX on the CPU, where there is no separate device, the growth of the resident set from
before the network was built to the peak (model, activations, gradients, optimizer state and
allocator caches).

Usage (from the repository root, after building clgrad into build/):
  python3 bench/compare_pytorch.py --setup-venv                 # once: PyTorch and JAX from PyPI
  python3 bench/compare_pytorch.py                              # all three networks, one epoch
  python3 bench/compare_pytorch.py --model lstm --batches 200   # quick
  python3 bench/compare_pytorch.py --json results.json
  python3 bench/compare_pytorch.py --wait-idle 0.5               # the table, once the machine is idle

Debian's PyTorch needs python3-torch and python3-numpy; the virtual environment is made with
python3-venv and pip.
"""

import argparse
import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

MEAN, STD = 0.2860, 0.3530
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEBIAN_PYTHON = "/usr/bin/python3"
FRAMEWORKS = ["clgrad", "torch", "torch1", "jax"]
LABELS = {"clgrad": "clgrad (OpenCL)", "torch": "PyTorch 2.x", "torch1": "PyTorch 1.13 (Debian)", "jax": "JAX"}
MODELS = ["cnn", "lstm", "mlp"]


def default_venv():
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "clgrad", "bench-venv")


def venv_python(venv):
    return os.path.join(venv, "bin", "python")


def setup_venv(venv, index_url):
    """Creates venv (if needed) and installs the current torch and jax from PyPI into it."""
    if not os.path.exists(venv_python(venv)):
        print("creating the virtual environment %s" % venv, flush=True)
        subprocess.run([DEBIAN_PYTHON, "-m", "venv", venv], check=True)
    pip = [venv_python(venv), "-m", "pip", "install", "--upgrade"]
    subprocess.run(pip + ["pip"], check=True)
    torch_cmd = pip + ["torch", "numpy"]
    if index_url:
        torch_cmd += ["--index-url", index_url]
    subprocess.run(torch_cmd, check=True)
    subprocess.run(pip + ["jax", "numpy"], check=True)
    out = subprocess.run([venv_python(venv), "-c", "import torch, jax; print(torch.__version__, jax.__version__)"],
                         check=True, stdout=subprocess.PIPE, text=True).stdout.split()
    print("torch %s, jax %s in %s" % (out[0], out[1], venv), flush=True)


# --------------------------------------------------------------------------------------------
# Workers: one training run in the framework's own interpreter, one JSON line on stdout
# --------------------------------------------------------------------------------------------

def limit_threads(threads):
    """Pins this process to `threads` CPUs and sets the thread-count variables the libraries
    read when they load (so call it before importing them)."""
    cpus = sorted(os.sched_getaffinity(0))[:threads]
    os.sched_setaffinity(0, cpus)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def read_idx(path):
    import numpy as np
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find_idx(data_dir, stem):
    for name in (stem, stem + ".gz"):
        p = os.path.join(data_dir, name)
        if os.path.exists(p):
            return p
    sys.exit("compare_pytorch: %s[.gz] not found in %s" % (stem, data_dir))


def load_data(args):
    import numpy as np
    x = read_idx(find_idx(args.data, "train-images-idx3-ubyte"))
    y = read_idx(find_idx(args.data, "train-labels-idx1-ubyte")).astype(np.int32)
    return x, y


def batches(args, n):
    import numpy as np
    order = np.random.default_rng(args.seed).permutation(n)
    nb = (n + args.batch - 1) // args.batch
    if args.batches > 0:
        nb = min(nb, args.batches)
    return [order[i * args.batch:(i + 1) * args.batch] for i in range(nb)]


def gather(x_u8, y, idx, shape):
    """The data handling of one step: the batch's samples as normalised float32."""
    import numpy as np
    xb = x_u8[idx].astype(np.float32)
    xb *= 1.0 / (255.0 * STD)
    xb -= MEAN / STD
    return xb.reshape((len(idx),) + shape), y[idx]


def report(t_steps, samples, loss_sum, steps, rss0, extra):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out = {"seconds": t_steps, "samples": samples, "samples_per_s": samples / t_steps if t_steps > 0 else 0.0,
           "steps": steps, "loss": loss_sum / max(steps, 1), "peak_rss": peak, "device_mem": peak - rss0}
    out.update(extra)
    print(json.dumps(out), flush=True)


def torch_worker(args):
    limit_threads(args.threads)
    import numpy as np
    import torch
    import torch.nn as nn

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    x_u8, y_all = load_data(args)
    rss0 = rss_bytes()
    if args.model == "cnn":
        net = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
        shape = (1, 28, 28)
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    elif args.model == "mlp":
        net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                            nn.Linear(128, 10))
        shape = (784,)
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    else:
        class RowLSTM(nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = nn.LSTM(28, 128, batch_first=True)
                self.fc = nn.Linear(128, 10)

            def forward(self, v):
                out, _ = self.lstm(v)
                return self.fc(out[:, -1])
        net = RowLSTM()
        shape = (28, 28)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    net.train()
    t0, samples, loss_sum, steps = None, 0, 0.0, 0
    for i, idx in enumerate(batches(args, len(x_u8))):
        if i == 1:
            t0 = time.perf_counter()
        xb, yb = gather(x_u8, y_all, idx, shape)
        xt, yt = torch.from_numpy(xb), torch.from_numpy(yb.astype(np.int64))
        opt.zero_grad()
        loss = loss_fn(net(xt), yt)
        loss.backward()
        opt.step()
        value = loss.item()
        if i >= 1:
            samples += len(idx)
            loss_sum += value
            steps += 1
    dt = time.perf_counter() - t0 if t0 is not None else 0.0
    report(dt, samples, loss_sum, steps, rss0,
           {"version": "torch " + torch.__version__, "threads": torch.get_num_threads()})


def jax_worker(args):
    limit_threads(args.threads)
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               " --xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads=%d" % args.threads)
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import numpy as np
    import jax
    import jax.numpy as jnp
    from jax import lax

    x_u8, y_all = load_data(args)
    rss0 = rss_bytes()
    key = jax.random.PRNGKey(args.seed)

    def uniform(k, shape, fan_in):  # PyTorch's default initialisation of weights and biases
        bound = 1.0 / np.sqrt(fan_in)
        return jax.random.uniform(k, shape, jnp.float32, -bound, bound)

    keys = iter(jax.random.split(key, 16))

    def linear(i, o):
        return {"w": uniform(next(keys), (i, o), i), "b": uniform(next(keys), (o,), i)}

    def conv(ci, co):
        return {"w": uniform(next(keys), (co, ci, 3, 3), ci * 9), "b": uniform(next(keys), (co,), ci * 9)}

    def dense(p, v):
        return v @ p["w"] + p["b"]

    def conv2d(p, v):
        out = lax.conv_general_dilated(v, p["w"], (1, 1), ((1, 1), (1, 1)),
                                       dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return out + p["b"][None, :, None, None]

    def maxpool2(v):
        return lax.reduce_window(v, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    if args.model == "cnn":
        params = {"c1": conv(1, 32), "c2": conv(32, 64), "f1": linear(3136, 128), "f2": linear(128, 10)}
        shape = (1, 28, 28)

        def forward(p, v):
            v = maxpool2(jax.nn.relu(conv2d(p["c1"], v)))
            v = maxpool2(jax.nn.relu(conv2d(p["c2"], v)))
            v = jax.nn.relu(dense(p["f1"], v.reshape(v.shape[0], -1)))
            return dense(p["f2"], v)
    elif args.model == "mlp":
        params = {"f1": linear(784, 256), "f2": linear(256, 128), "f3": linear(128, 10)}
        shape = (784,)

        def forward(p, v):
            v = jax.nn.relu(dense(p["f1"], v))
            v = jax.nn.relu(dense(p["f2"], v))
            return dense(p["f3"], v)
    else:
        H = 128
        params = {"wih": uniform(next(keys), (28, 4 * H), H), "whh": uniform(next(keys), (H, 4 * H), H),
                  "b": uniform(next(keys), (4 * H,), H) + uniform(next(keys), (4 * H,), H),
                  "fc": linear(H, 10)}
        shape = (28, 28)

        def forward(p, v):
            xp = jnp.einsum("bti,ig->tbg", v, p["wih"]) + p["b"]  # the input projection of every step

            def cell(carry, xt):
                h, c = carry
                g = xt + h @ p["whh"]
                i, f, gg, o = jnp.split(g, 4, axis=-1)
                c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(gg)
                h = jax.nn.sigmoid(o) * jnp.tanh(c)
                return (h, c), None
            z = jnp.zeros((v.shape[0], H), jnp.float32)
            (h, _), _ = lax.scan(cell, (z, z), xp)
            return dense(p["fc"], h)

    def loss_fn(p, v, t):
        logits = forward(p, v)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), t[:, None], axis=1))

    if args.model == "lstm":  # Adam, lr 1e-3, as torch.optim.Adam
        opt_state = {"m": jax.tree_util.tree_map(jnp.zeros_like, params),
                     "v": jax.tree_util.tree_map(jnp.zeros_like, params), "t": jnp.zeros((), jnp.float32)}

        def update(p, s, g):
            t = s["t"] + 1
            m = jax.tree_util.tree_map(lambda m, g: 0.9 * m + 0.1 * g, s["m"], g)
            v = jax.tree_util.tree_map(lambda v, g: 0.999 * v + 0.001 * g * g, s["v"], g)
            c1, c2 = 1 - 0.9 ** t, 1 - 0.999 ** t
            p = jax.tree_util.tree_map(lambda p, m, v: p - 1e-3 * (m / c1) / (jnp.sqrt(v / c2) + 1e-8), p, m, v)
            return p, {"m": m, "v": v, "t": t}
    else:  # SGD with momentum 0.9, lr 0.01, as torch.optim.SGD
        opt_state = jax.tree_util.tree_map(jnp.zeros_like, params)

        def update(p, s, g):
            s = jax.tree_util.tree_map(lambda b, g: 0.9 * b + g, s, g)
            return jax.tree_util.tree_map(lambda p, b: p - 0.01 * b, p, s), s

    def train_step(p, s, v, t):
        loss, g = jax.value_and_grad(loss_fn)(p, v, t)
        p, s = update(p, s, g)
        return p, s, loss

    step = jax.jit(train_step, donate_argnums=(0, 1))
    order = batches(args, len(x_u8))
    # Compile for every batch size the epoch has (a short last batch is a new shape) before
    # timing, as the other frameworks build their kernels before theirs.
    for n in sorted({len(idx) for idx in order}):
        xb, yb = gather(x_u8, y_all, order[0][:n], shape)
        step.lower(params, opt_state, xb, yb).compile()
    t0, samples, loss_sum, steps = None, 0, 0.0, 0
    for i, idx in enumerate(order):
        if i == 1:
            t0 = time.perf_counter()
        xb, yb = gather(x_u8, y_all, idx, shape)
        params, opt_state, loss = step(params, opt_state, xb, yb)
        value = float(loss)
        if i >= 1:
            samples += len(idx)
            loss_sum += value
            steps += 1
    dt = time.perf_counter() - t0 if t0 is not None else 0.0
    report(dt, samples, loss_sum, steps, rss0, {"version": "jax " + jax.__version__, "threads": args.threads})


# --------------------------------------------------------------------------------------------
# The driver
# --------------------------------------------------------------------------------------------

def run_child(cmd, env):
    """Runs cmd; returns (stdout, peak RSS of the child in bytes)."""
    with tempfile.TemporaryFile(mode="w+") as out:
        p = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.PIPE, text=True)
        err = p.stderr.read()
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if p.returncode != 0:
        sys.exit("compare_pytorch: %s failed (exit %d):\n%s%s" % (" ".join(cmd), p.returncode, text[-2000:],
                                                                     err[-4000:]))
    return text, ru.ru_maxrss * 1024


def run_worker(args, fw, model):
    python = venv_python(args.venv) if fw in ("torch", "jax") else DEBIAN_PYTHON
    env = dict(os.environ)
    if fw == "torch1":
        env["OPENBLAS_NUM_THREADS"] = "1"
    cmd = [python, os.path.abspath(__file__), "--worker", "jax" if fw == "jax" else "torch", "--model", model,
           "--data", args.data, "--batch", str(args.batch), "--batches", str(args.batches),
           "--threads", str(args.threads), "--seed", str(args.seed)]
    text, _ = run_child(cmd, env)
    r = json.loads(text.strip().splitlines()[-1])
    r["command"] = ("OPENBLAS_NUM_THREADS=1 " if fw == "torch1" else "") + " ".join(cmd)
    return r


def find_train_binary(explicit):
    if explicit:
        return explicit
    for d in ("build", "build-rel", "builddir", "_build"):
        p = os.path.join(REPO, d, "tools", "train", "clgrad-train")
        if os.path.exists(p):
            return p
    p = shutil.which("clgrad-train")
    if p:
        return p
    sys.exit("compare_pytorch: clgrad-train not found; build it or pass --clgrad-train PATH")


def clgrad_base(args, model):
    optim, lr = ("adam", "0.001") if model == "lstm" else ("sgd", "0.01")
    base = [find_train_binary(args.clgrad_train), "--data", args.data, "--model", model, "--optim", optim,
            "--lr", lr, "--batch", str(args.batch), "--epochs", "1", "--seed", str(args.seed), "--checkpoint", "",
            "--quiet"]
    if args.device:
        base += ["--device", args.device]
    return base


def clgrad_env(args):
    env = dict(os.environ)
    env["POCL_MAX_PTHREAD_COUNT"] = str(args.threads)
    env["OMP_NUM_THREADS"] = str(args.threads)
    return env


def warm_clgrad(args, model):
    """Two batches, so that kernel builds and the GEMM verdict are cached before timing."""
    subprocess.run(clgrad_base(args, model) + ["--limit-batches", "2"], env=clgrad_env(args), check=True,
                   stdout=subprocess.DEVNULL)


def run_clgrad(args, model):
    cpus = sorted(os.sched_getaffinity(0))[:args.threads]
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "log.jsonl")
        cmd = clgrad_base(args, model) + ["--log", log]
        if args.batches > 0:
            cmd += ["--limit-batches", str(args.batches)]
        _, peak = run_child(["taskset", "-c", ",".join(map(str, cpus))] + cmd, clgrad_env(args))
        with open(log) as f:
            row = json.loads(f.read().strip().splitlines()[-1])
    return {"samples_per_s": row["samples_per_s"], "seconds": row["epoch_seconds"], "loss": row["train_loss"],
            "test_acc": row.get("test_acc"), "peak_rss": peak, "device_mem": row.get("device_peak_bytes"),
            "version": "clgrad", "command": " ".join(cmd).replace(log, "LOG.jsonl")}


def mib(v):
    return "-" if v is None else "%.0f" % (v / 2 ** 20)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", choices=MODELS + ["all"], default="all")
    ap.add_argument("--frameworks", default=",".join(FRAMEWORKS),
                    help="comma-separated subset of %s (default: all)" % ",".join(FRAMEWORKS))
    ap.add_argument("--data", default=os.environ.get("CLGRAD_FASHION_MNIST_DIR",
                                                     "/usr/share/datasets/fashion-mnist"))
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--batches", type=int, default=0, help="train N batches only (0: one epoch)")
    ap.add_argument("--threads", type=int, default=2, help="threads (and CPUs) per framework (default 2)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=2, help="runs of each framework and network; the best counts")
    ap.add_argument("--device", default=None, help="clgrad device selector (default: clgrad-train's)")
    ap.add_argument("--clgrad-train", default=None, help="path of the clgrad-train binary")
    ap.add_argument("--venv", default=default_venv(),
                    help="virtual environment with PyTorch 2.x and JAX (default %(default)s)")
    ap.add_argument("--setup-venv", action="store_true",
                    help="create --venv and install the current torch and jax from PyPI into it, then exit")
    ap.add_argument("--torch-index-url", default=None,
                    help="with --setup-venv: pip index for torch (e.g. https://download.pytorch.org/whl/cpu)")
    ap.add_argument("--json", default=None, help="also write every run here")
    ap.add_argument("--wait-idle", type=float, default=0, metavar="LOAD",
                    help="first wait (up to --wait-max seconds) until the 1-minute load average is below LOAD")
    ap.add_argument("--wait-max", type=float, default=3600, help="the most seconds --wait-idle waits (default 3600)")
    ap.add_argument("--worker", choices=["torch", "jax"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker == "torch":
        torch_worker(args)
        return
    if args.worker == "jax":
        jax_worker(args)
        return
    if args.setup_venv:
        setup_venv(args.venv, args.torch_index_url)
        return

    fws = [f for f in args.frameworks.split(",") if f]
    for f in fws:
        if f not in FRAMEWORKS:
            sys.exit("compare_pytorch: unknown framework %s (one of %s)" % (f, ", ".join(FRAMEWORKS)))
    if any(f in ("torch", "jax") for f in fws) and not os.path.exists(venv_python(args.venv)):
        sys.exit("compare_pytorch: no virtual environment at %s; make it with --setup-venv (or give --venv, or "
                 "leave torch and jax out with --frameworks clgrad,torch1)" % args.venv)
    models = MODELS if args.model == "all" else [args.model]
    if args.wait_idle > 0:
        t0 = time.time()
        while os.getloadavg()[0] >= args.wait_idle and time.time() - t0 < args.wait_max:
            time.sleep(15)
        print("load average %.2f after waiting %.0f s for below %.2f" % (os.getloadavg()[0], time.time() - t0,
                                                                       args.wait_idle), file=sys.stderr)
    if "clgrad" in fws:
        for m in models:
            warm_clgrad(args, m)
    with open("/proc/loadavg") as f:
        load_before = f.read().split()[:3]
    runs = {(m, f): [] for m in models for f in fws}
    for rep in range(args.repeat):
        for m in models:
            for f in fws:
                r = run_clgrad(args, m) if f == "clgrad" else run_worker(args, f, m)
                r.update({"model": m, "framework": f, "repeat": rep})
                runs[(m, f)].append(r)
                print("  %-4s %-22s %9.0f samples/s  (run %d)" % (m, LABELS[f], r["samples_per_s"], rep + 1),
                      file=sys.stderr, flush=True)
    with open("/proc/loadavg") as f:
        load_after = f.read().split()[:3]
    best = {k: max(v, key=lambda r: r["samples_per_s"]) for k, v in runs.items()}

    what = "one epoch" if args.batches <= 0 else "%d batches" % args.batches
    print("Training samples/s (%s, batch %d, %d threads each, best of %d interleaved runs; load average %s before, "
          "%s after):\n" % (what, args.batch, args.threads, args.repeat, "/".join(load_before),
                             "/".join(load_after)))
    others = [f for f in fws if f != "clgrad"]
    head = "| network |" + "".join(" %s |" % LABELS[f] for f in fws)
    if "clgrad" in fws and others:
        head += " clgrad / best other |"
    print(head)
    print("|---|" + "---:|" * (len(fws) + (1 if "clgrad" in fws and others else 0)))
    for m in models:
        line = "| %s |" % m
        for f in fws:
            line += " %.0f |" % best[(m, f)]["samples_per_s"]
        if "clgrad" in fws and others:
            top = max(others, key=lambda f: best[(m, f)]["samples_per_s"])
            ratio = best[(m, "clgrad")]["samples_per_s"] / best[(m, top)]["samples_per_s"]
            line += " %.2fx (vs %s) |" % (ratio, LABELS[top])
        print(line)
    print("\nMemory, MiB: peak RSS / device memory (clgrad: the buffer pool's peak; PyTorch and JAX on the CPU: "
          "growth of the resident set from before the network was built to the peak):\n")
    print("| network |" + "".join(" %s |" % LABELS[f] for f in fws))
    print("|---|" + "---:|" * len(fws))
    for m in models:
        print("| %s |" % m + "".join(" %s / %s |" % (mib(best[(m, f)]["peak_rss"]), mib(best[(m, f)]["device_mem"]))
                                      for f in fws))
    print()
    for m in models:
        for f in fws:
            print("%s %s: %s" % (m, f, best[(m, f)]["command"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump([r for v in runs.values() for r in v], f, indent=2)


if __name__ == "__main__":
    main()
