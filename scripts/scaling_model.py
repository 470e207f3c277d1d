#!/usr/bin/env python3
"""A model of one data-parallel training step on N devices, printed as markdown tables.

Each of N ranks runs forward, backward and the optimizer step on its own batch (the batch
per device stays fixed as N grows). During backward the gradients are summed over the ranks
in buckets: each bucket is read from the device into host memory, summed by a ring allreduce
over the network (the host adds what arrives), and written back. Bucket i starts as soon as
backward has finished its gradients, so its communication overlaps the rest of backward;
the last bucket overlaps nothing. The step ends when backward and every bucket are done,
then the optimizer step runs. Efficiency is t_compute / t_step, t_compute being the
single-device step (N x efficiency is the speed-up in samples/s).

Terms, for a bucket of b bytes on N ranks:
  read to host    b / pcie + pcie_latency        (device -> host, one DMA direction)
  allreduce       alpha * 2(N-1) + 2(N-1)/N * b / link + (N-1)/N * b / host_add
  write back      b / pcie + pcie_latency        (host -> device, the other direction)
The three stages form a pipeline: a stage starts a bucket when the stage is free and the
bucket has left the stage before. Backward finishes gradient bytes at an even rate (bucket
i is ready when its last byte is). N = 1 has no communication at all.

Sections (--only, default all): compute, terms, efficiency, limits, changes, check. The
"check" section predicts the 2-rank step on the 2-core CPU machine (PoCL device, shared
memory instead of a network) and prints it against --measured-2rank-ms when given.
--measure-memcpy times memcpy here (Python's bytearray slice copy) at the gradient size
and uses it for the check.

Usage (from the repository root; the defaults reproduce docs/scaling.md):
  python3 scripts/scaling_model.py
  python3 scripts/scaling_model.py --only check --measure-memcpy --measured-2rank-ms MS
  python3 scripts/scaling_model.py --help
Plain Python 3 standard library; nothing is run but the memcpy timing.
"""

import argparse
import math
import statistics
import sys
import time

MIB = 1 << 20


def cnn_flops_per_sample():
    """FLOPs of one training sample of the reference CNN (clgrad-train --model cnn):
    forward multiply-adds of the two convolutions and two linear layers, x 2 FLOPs each,
    x 3 for forward + backward (input and weight gradients). Pooling, activations and the
    loss are left out (under 1%)."""
    conv1 = 28 * 28 * 32 * (1 * 3 * 3)       # 1->32, 3x3, pad 1, on 28x28
    conv2 = 14 * 14 * 64 * (32 * 3 * 3)      # 32->64, 3x3, pad 1, on 14x14
    fc1 = 3136 * 128
    fc2 = 128 * 10
    return 3 * 2 * (conv1 + conv2 + fc1 + fc2)


def parse_list(text, kind):
    try:
        vals = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("expected a comma-separated list of numbers: %r" % text)
    if not vals or any(v <= 0 for v in vals):
        raise argparse.ArgumentTypeError("expected positive numbers: %r" % text)
    return vals


def positive(kind):
    def conv(text):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError("not a number: %r" % text)
        if not v > 0:
            raise argparse.ArgumentTypeError("must be > 0: %r" % text)
        return v
    return conv


def share(text):
    v = positive(float)(text)
    if v >= 1:
        raise argparse.ArgumentTypeError("must be below 1: %r" % text)
    return v


# --- the model ---------------------------------------------------------------------------

class Net:
    """How a step's communication runs: seconds and bytes per second throughout."""

    def __init__(self, link_Bps, alpha, stage_Bps, stage_lat, add_Bps,
                 node=1, intra_Bps=None, intra_alpha=0.0):
        self.link_Bps = link_Bps      # network bandwidth per rank, bytes/s
        self.alpha = alpha            # seconds per message
        self.stage_Bps = stage_Bps    # device <-> host, each direction; None: no staging
        self.stage_lat = stage_lat    # seconds per transfer
        self.add_Bps = add_Bps        # host summation, gradient bytes/s; None: on the device
        self.node = node              # ranks per node for a two-level (hierarchical) ring
        self.intra_Bps = intra_Bps
        self.intra_alpha = intra_alpha

    def ring(self, nbytes, n, alpha, bw):
        if n <= 1:
            return 0.0
        return alpha * 2 * (n - 1) + 2 * (n - 1) / n * nbytes / bw

    def allreduce(self, nbytes, n):
        """Seconds to sum nbytes over n ranks, and the split into latency, bandwidth and
        host addition."""
        if n <= 1:
            return 0.0, 0.0, 0.0, 0.0
        g = min(self.node, n)
        if g > 1:
            # reduce-scatter and all-gather inside the node, then g rings over the nodes,
            # one per rank's own link, each carrying 1/g of the bytes
            m = n // g
            lat = self.intra_alpha * 2 * (g - 1) + self.alpha * 2 * (m - 1)
            bwt = 2 * (g - 1) / g * nbytes / self.intra_Bps
            if m > 1:
                bwt += 2 * (m - 1) / m * (nbytes / g) / self.link_Bps
        else:
            lat = self.alpha * 2 * (n - 1)
            bwt = 2 * (n - 1) / n * nbytes / self.link_Bps
        add = (n - 1) / n * nbytes / self.add_Bps if self.add_Bps else 0.0
        return lat + bwt + add, lat, bwt, add

    def stage(self, nbytes):
        if self.stage_Bps is None:
            return 0.0
        return nbytes / self.stage_Bps + self.stage_lat


def buckets(total, size):
    out = []
    left = total
    while left > 0:
        out.append(min(size, left))
        left -= out[-1]
    return out


def step(t_compute, bwd_share, opt_share, grad_bytes, bucket_bytes, n, net, overlap=True):
    """One step on n ranks. Returns a dict of seconds: step, compute, exposed communication
    and the totals of each communication term (summed over the buckets)."""
    t_bwd = t_compute * bwd_share
    t_opt = t_compute * opt_share
    t_fwd = t_compute - t_bwd - t_opt
    r = {"compute": t_compute, "stage": 0.0, "lat": 0.0, "bw": 0.0, "add": 0.0,
         "buckets": 0}
    if n <= 1:
        r.update(step=t_compute, exposed=0.0, comm=0.0)
        return r
    sizes = buckets(grad_bytes, bucket_bytes)
    r["buckets"] = len(sizes)
    free = [0.0, 0.0, 0.0]   # when each pipeline stage is next free
    done = 0
    end_bwd = t_fwd + t_bwd
    for b in sizes:
        done += b
        ready = t_fwd + t_bwd * done / grad_bytes if overlap else end_bwd
        ar, lat, bwt, add = net.allreduce(b, n)
        st = net.stage(b)
        costs = (st, ar, st)
        t = ready
        for k in range(3):
            t = max(t, free[k]) + costs[k]
            free[k] = t
        r["stage"] += 2 * st
        r["lat"] += lat
        r["bw"] += bwt
        r["add"] += add
    t_step = max(end_bwd, free[2]) + t_opt
    r.update(step=t_step, exposed=t_step - t_compute,
             comm=r["stage"] + r["lat"] + r["bw"] + r["add"])
    return r


# --- inputs ------------------------------------------------------------------------------

def scenarios(a):
    """(name, parameters, compute seconds per step, how compute scales with the batch,
    staging: 'pcie' or 'memcpy')."""
    cnn_flops = cnn_flops_per_sample() * a.batch
    big_flops = a.large_flops_per_sample * a.batch

    def gpu_time(flops, launches, scale=1.0, gflops=None):
        rate = (gflops or a.gpu_gflops) * 1e9
        return flops * scale / rate + launches * a.launch_us * 1e-6

    return [
        {"key": "cnn-cpu",
         "name": "reference CNN, this CPU (PoCL, measured %.1f ms)" % a.cpu_step_ms,
         "params": a.cnn_params,
         "t": a.cpu_step_ms * 1e-3,
         "t_scaled": lambda s: a.cpu_step_ms * 1e-3 * s,
         "staging": "memcpy"},
        {"key": "cnn-gpu",
         "name": "reference CNN, GPU (assumed %g GFLOP/s, %d launches x %g us)"
                 % (a.gpu_gflops, a.cnn_launches, a.launch_us),
         "params": a.cnn_params,
         "t": gpu_time(cnn_flops, a.cnn_launches),
         "t_scaled": lambda s: gpu_time(cnn_flops, a.cnn_launches, s),
         "staging": "pcie"},
        {"key": "large-gpu",
         "name": "%.1f M parameters (ResNet-50 size), GPU (assumed %g GFLOP/s)"
                 % (a.large_params / 1e6, a.gpu_gflops),
         "params": a.large_params,
         "t": gpu_time(big_flops, a.large_launches),
         "t_scaled": lambda s: gpu_time(big_flops, a.large_launches, s),
         "staging": "pcie"},
        {"key": "large-gpu-fast",
         "name": "%.1f M parameters (ResNet-50 size), GPU (assumed %g GFLOP/s, mixed precision)"
                 % (a.large_params / 1e6, a.fast_gflops),
         "params": a.large_params,
         "t": gpu_time(big_flops, a.large_launches, gflops=a.fast_gflops),
         "t_scaled": lambda s: gpu_time(big_flops, a.large_launches, s, a.fast_gflops),
         "staging": "pcie"},
    ]


def make_net(a, sc, gbps, on_device=False, hierarchical=False):
    link = gbps * 1e9 / 8
    if on_device:
        stage_Bps, add_Bps = None, None
    elif sc["staging"] == "memcpy":
        stage_Bps, add_Bps = a.cpu_memcpy_gbytes * 1e9, a.cpu_memcpy_gbytes * 1e9 * 2 / 3
    else:
        stage_Bps, add_Bps = a.pcie_gbytes * 1e9, a.host_add_gbytes * 1e9
    if hierarchical:
        return Net(link, a.alpha_us * 1e-6, stage_Bps, a.pcie_latency_us * 1e-6, add_Bps,
                   node=a.node_size, intra_Bps=a.intra_gbytes * 1e9,
                   intra_alpha=a.intra_alpha_us * 1e-6)
    return Net(link, a.alpha_us * 1e-6, stage_Bps, a.pcie_latency_us * 1e-6, add_Bps)


def run_step(a, sc, n, gbps, elem=4, bucket_mib=None, compress=1.0, on_device=False,
             hierarchical=False, batch_scale=1.0):
    net = make_net(a, sc, gbps, on_device, hierarchical)
    t = sc["t_scaled"](batch_scale) if batch_scale != 1.0 else sc["t"]
    grad = sc["params"] * elem / compress
    bb = (bucket_mib if bucket_mib is not None else a.bucket_mib) * MIB
    r = step(t, a.backward_share, a.optimizer_share, grad, bb, n, net)
    r["eff"] = t / r["step"]
    return r


# --- printing ----------------------------------------------------------------------------

def ms(x):
    return "%.3f" % (x * 1e3) if x < 0.01 else "%.2f" % (x * 1e3) if x < 1 else "%.0f" % (x * 1e3)


def pct(x):
    return "%.0f%%" % (100 * x)


def table(head, rows):
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    print()


def section_compute(a, scs):
    print("### Compute per step (batch %d per device)\n" % a.batch)
    rows = []
    for sc in scs:
        grad = sc["params"] * 4
        rows.append(["`%s`: %s" % (sc["key"], sc["name"]), "{:,}".format(int(sc["params"])), "%.2f" % (grad / 1e6),
                     "%.2f" % (grad / 2e6), ms(sc["t"]),
                     ms(sc["t"] * a.backward_share)])
    table(["model and device", "parameters", "fp32 gradient MB", "fp16 gradient MB",
           "t_compute ms", "of which backward ms"], rows)
    print("CNN training FLOPs per sample: %.1f M (forward x 3); per step: %.2f GFLOP; "
          "ResNet-50 size: %.1f GFLOP per sample.\n"
          % (cnn_flops_per_sample() / 1e6, cnn_flops_per_sample() * a.batch / 1e9,
             a.large_flops_per_sample / 1e9))


def section_terms(a, scs):
    print("### Where the time goes (fp32 gradients, %g MiB buckets)\n" % a.bucket_mib)
    rows = []
    for n in a.terms_ranks:
        for sc in scs:
            for gbps in a.links:
                r = run_step(a, sc, n, gbps)
                rows.append([n, sc["key"], gbps, r["buckets"], ms(r["compute"]),
                             ms(r["stage"]), ms(r["lat"]), ms(r["bw"]), ms(r["add"]),
                             ms(r["exposed"]), ms(r["step"]), pct(r["eff"])])
    table(["N", "model", "Gb/s", "buckets", "compute ms", "staging ms", "ring latency ms",
           "ring bandwidth ms", "host add ms", "exposed ms", "step ms", "efficiency"], rows)


def section_efficiency(a, scs):
    for sc in scs:
        print("### Efficiency: `%s`, %s, t_compute %s ms\n" % (sc["key"], sc["name"], ms(sc["t"])))
        head = ["N"] + ["%g Gb/s %s" % (g, d) for g in a.links for d in ("fp32", "fp16")]
        rows = []
        for n in a.ranks:
            row = [n]
            for gbps in a.links:
                for elem in (4, 2):
                    row.append(pct(run_step(a, sc, n, gbps, elem=elem)["eff"]))
            rows.append(row)
        table(head, rows)


def first_below(a, sc, gbps, **kw):
    for n in a.ranks:
        if run_step(a, sc, n, gbps, **kw)["eff"] < a.target:
            return n
    return None


def section_limits(a, scs):
    print("### First N below %s efficiency\n" % pct(a.target))
    rows = []
    for sc in scs:
        row = [sc["key"]]
        for gbps in a.links:
            for elem in (4, 2):
                n = first_below(a, sc, gbps, elem=elem)
                row.append(n if n is not None else "none to %d" % a.ranks[-1])
        rows.append(row)
    table(["model"] + ["%g Gb/s %s" % (g, d) for g in a.links for d in ("fp32", "fp16")], rows)


def section_changes(a, scs):
    n = a.ranks[-1]
    print("### What each change gives at N = %d (efficiency; fp32 unless said)\n" % n)
    changes = [
        ("as is", {}),
        ("fp16 gradients", {"elem": 2}),
        ("compression %gx" % a.compress, {"compress": a.compress}),
        ("on-device reduction", {"on_device": True}),
        ("hierarchical, %d per node" % a.node_size, {"on_device": True, "hierarchical": True}),
        ("batch x%g" % a.batch_scale, {"batch_scale": a.batch_scale}),
        ("fp16, 25 MiB buckets", {"elem": 2, "bucket_mib": 25}),
        ("fp16 + hierarchical", {"elem": 2, "on_device": True, "hierarchical": True}),
    ]
    rows = []
    for sc in scs:
        for gbps in a.links:
            row = [sc["key"], gbps]
            for _, kw in changes:
                row.append(pct(run_step(a, sc, n, gbps, **kw)["eff"]))
            best = max(a.bucket_choices,
                       key=lambda mib: run_step(a, sc, n, gbps, bucket_mib=mib)["eff"])
            row.insert(3, "%s (%g MiB)" % (pct(run_step(a, sc, n, gbps, bucket_mib=best)["eff"]),
                                           best))
            need = next((k for k in (2 ** i for i in range(11))
                         if run_step(a, sc, n, gbps, batch_scale=k)["eff"] >= a.target), None)
            row.append("x%d (%d)" % (need, need * a.batch) if need else "over x1024")
            rows.append(row)
    head = ["model", "Gb/s", changes[0][0], "best bucket of %s MiB"
            % "/".join("%g" % m for m in a.bucket_choices)] + [c[0] for c in changes[1:]] \
        + ["batch for %s (per device)" % pct(a.target)]
    table(head, rows)


def measure_memcpy(nbytes, repeat=7):
    """Bytes copied per second by one memcpy (a bytearray slice assignment), the median of
    `repeat` timings of enough copies to take about 50 ms each."""
    src = bytearray(b"\x5a" * nbytes)
    dst = bytearray(nbytes)
    view = memoryview(dst)
    view[:] = src
    count = max(1, int(0.05 * 5e9 / nbytes))
    rates = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(count):
            view[:] = src
        rates.append(nbytes * count / (time.perf_counter() - t0))
    return statistics.median(rates)


def section_check(a):
    grad = a.cnn_params * 4
    if a.measure_memcpy:
        a.check_memcpy_gbytes = measure_memcpy(grad) / 1e9
        print("memcpy of %d bytes (the CNN's fp32 gradient), measured now: %.1f GB/s "
              "copied\n" % (grad, a.check_memcpy_gbytes))
    bw = a.check_memcpy_gbytes * 1e9
    # shared memory: every byte is copied into the shared segment and out of it again
    net = Net(bw / 2, a.check_alpha_us * 1e-6, bw, 0.0, bw * 2 / 3)
    t_c = a.check_step_ms * 1e-3
    bb = a.bucket_mib * MIB
    ov = step(t_c, a.backward_share, a.optimizer_share, grad, bb, 2, net, overlap=True)
    no = step(t_c, a.backward_share, a.optimizer_share, grad, bb, 2, net, overlap=False)
    print("### 2 ranks on the 2-core CPU, one PoCL thread each, shared memory\n")
    rows = [
        ["t_compute: one rank, one thread, batch %d per rank (input)" % a.check_batch,
         "%.2f" % a.check_step_ms],
        ["gradient: %d fp32 parameters, %d bucket(s) of <= %g MiB"
         % (a.cnn_params, ov["buckets"], a.bucket_mib), "%.3f MB" % (grad / 1e6)],
        ["read to host + write back (memcpy at %.1f GB/s)" % a.check_memcpy_gbytes,
         ms(ov["stage"])],
        ["allreduce: 2 messages x %g us" % a.check_alpha_us, ms(ov["lat"])],
        ["allreduce: bytes through shared memory (two copies each)", ms(ov["bw"])],
        ["allreduce: host addition (2/3 of memcpy rate)", ms(ov["add"])],
        ["communication in all", ms(ov["comm"])],
        ["predicted 2-rank step, overlapped as modelled", ms(ov["step"])],
        ["predicted 2-rank step, no overlap", ms(no["step"])],
    ]
    s1 = a.check_1rank_ms * 1e-3
    for label, r in (("overlapped", ov), ("no overlap", no)):
        ratio = (2 * a.check_batch / r["step"]) / (a.check_1rank_batch / s1)
        rows.append(["predicted samples/s, 2 ranks / 1 rank (1 rank: %.2f ms at batch %d), %s"
                     % (a.check_1rank_ms, a.check_1rank_batch, label), "%.2fx" % ratio])
    if a.measured_2rank_ms is None:
        rows.append(["measured 2-rank step", "TODO (measured: to be filled from clgrad-bench dist)"])
    else:
        m = a.measured_2rank_ms * 1e-3
        rows.append(["measured 2-rank step", "%.2f" % a.measured_2rank_ms])
        rows.append(["measured / predicted (overlapped; no overlap)",
                     "%.2f; %.2f" % (m / ov["step"], m / no["step"])])
        ratio = (2 * a.check_batch / m) / (a.check_1rank_batch / s1)
        rows.append(["measured samples/s, 2 ranks / 1 rank", "%.2fx" % ratio])
    table(["term", "ms"], rows)


def self_test():
    """The model's terms against values worked out by hand; returns the failures."""
    bad = []

    def near(name, got, want):
        if abs(got - want) > 1e-12 + 1e-9 * abs(want):
            bad.append("%s: %r, expected %r" % (name, got, want))

    near("CNN FLOPs per sample", cnn_flops_per_sample(), 6 * 4241152)
    net = Net(1e9, 1e-5, 2e9, 1e-6, 4e9)
    # 8 ranks, 1 MB: 14 messages x 10 us + 2 x 7/8 x 1e6 / 1e9 s + 7/8 x 1e6 / 4e9 s
    near("ring allreduce", net.allreduce(1e6, 8)[0], 14e-5 + 1.75e-3 + 0.21875e-3)
    near("staging", net.stage(1e6), 0.5e-3 + 1e-6)
    near("N = 1", step(0.1, 0.6, 0.02, 1e6, 4 * MIB, 1, net)["step"], 0.1)
    # one bucket: ready at the end of backward, nothing overlaps
    r = step(0.1, 0.6, 0.02, 1e6, 4 * MIB, 8, net)
    near("one bucket", r["exposed"], 2 * net.stage(1e6) + net.allreduce(1e6, 8)[0])
    # ten buckets, each stage far shorter than a tenth of backward: only the last is exposed
    r = step(1.0, 0.6, 0.02, 1e6, 1e5, 8, net)
    near("overlap", r["exposed"], 2 * net.stage(1e5) + net.allreduce(1e5, 8)[0])
    # no overlap: every bucket waits for the end of backward, then the network stage
    # (the slowest) takes them one after the other
    ar, st = net.allreduce(1e5, 8)[0], net.stage(1e5)
    near("no overlap", step(1.0, 0.6, 0.02, 1e6, 1e5, 8, net, overlap=False)["exposed"],
         st + 10 * ar + st)
    # the network stage is the slowest: back to back from the first bucket's read
    # (0.2 s a bucket against 0.125 s of backward per bucket)
    slow = Net(5e5, 0.0, 1e12, 0.0, None)
    r = step(1.0, 0.5, 0.0, 4e5, 1e5, 2, slow)
    first_ready = 0.5 + 0.5 * 0.25
    near("pipeline", r["step"], first_ready + 1e5 / 1e12 + 4 * 0.2 + 1e5 / 1e12)
    # hierarchical with the whole group in one node is the ring inside the node
    h = Net(1e9, 1e-5, None, 0.0, None, node=8, intra_Bps=1e11, intra_alpha=2e-6)
    near("hierarchical, one node", h.allreduce(1e6, 8)[0], 14 * 2e-6 + 1.75e6 / 1e11)
    # two nodes of 8: inside, then 8 rings of 2 over the network with 1/8 of the bytes
    near("hierarchical, two nodes", h.allreduce(8e6, 16)[0],
         14 * 2e-6 + 2 * 1e-5 + 1.75 * 8e6 / 1e11 + 1.0 * 1e6 / 1e9)
    near("buckets", sum(buckets(10 * MIB, 4 * MIB)), 10 * MIB)
    if len(buckets(10 * MIB, 4 * MIB)) != 3:
        bad.append("buckets: 10 MiB in 4 MiB buckets is not 3")
    return bad


def main(argv=None):
    p = argparse.ArgumentParser(
        description="Model of a data-parallel training step on N devices (markdown tables).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--only", choices=["all", "compute", "terms", "efficiency", "limits",
                                      "changes", "check"], default="all")
    g = p.add_argument_group("compute")
    g.add_argument("--cpu-step-ms", type=positive(float), default=14.8,
                   help="measured CNN step on this CPU (clgrad-train --profile, batch 64)")
    g.add_argument("--batch", type=positive(int), default=64, help="batch per device")
    g.add_argument("--backward-share", type=share, default=0.61,
                   help="backward's share of the step (measured: 17.4 of 28.8 ms)")
    g.add_argument("--optimizer-share", type=share, default=0.02,
                   help="the optimizer step's share (measured 1.6%%)")
    g.add_argument("--gpu-gflops", type=positive(float), default=10000,
                   help="ASSUMED sustained FP32 GFLOP/s of a GPU")
    g.add_argument("--fast-gflops", type=positive(float), default=60000,
                   help="ASSUMED sustained GFLOP/s of a GPU in mixed precision (tensor cores)")
    g.add_argument("--launch-us", type=positive(float), default=10,
                   help="ASSUMED cost of one kernel launch on a GPU, us")
    g.add_argument("--cnn-params", type=positive(int), default=421642)
    g.add_argument("--cnn-launches", type=positive(int), default=46,
                   help="kernel launches per CNN step (clgrad-train --profile)")
    g.add_argument("--large-params", type=positive(float), default=25.6e6)
    g.add_argument("--large-flops-per-sample", type=positive(float), default=24.6e9,
                   help="training FLOPs per 224x224 image, ResNet-50: 3 x 2 x 4.1 G multiply-adds")
    g.add_argument("--large-launches", type=positive(int), default=500,
                   help="ASSUMED kernel launches per step of the large model")
    g = p.add_argument_group("communication")
    g.add_argument("--ranks", type=lambda s: parse_list(s, int), default=[1, 2, 4, 8, 16, 32, 64])
    g.add_argument("--links", type=lambda s: parse_list(s, float), default=[25, 100, 400],
                   help="link speeds per rank, Gb/s")
    g.add_argument("--alpha-us", type=positive(float), default=10,
                   help="latency per ring message, us")
    g.add_argument("--pcie-gbytes", type=positive(float), default=25,
                   help="effective PCIe bandwidth per direction, GB/s (PCIe 4 x16)")
    g.add_argument("--pcie-latency-us", type=positive(float), default=5,
                   help="latency per PCIe transfer, us")
    g.add_argument("--host-add-gbytes", type=positive(float), default=10,
                   help="ASSUMED host summation rate of a GPU server, gradient GB/s")
    g.add_argument("--cpu-memcpy-gbytes", type=positive(float), default=12.5,
                   help="staging rate of the CPU device (a memcpy), GB/s")
    g.add_argument("--bucket-mib", type=positive(float), default=4)
    g.add_argument("--terms-ranks", type=lambda s: parse_list(s, int), default=[8, 64],
                   help="N of the terms table")
    g = p.add_argument_group("changes")
    g.add_argument("--target", type=share, default=0.8, help="efficiency target")
    g.add_argument("--compress", type=positive(float), default=8,
                   help="gradient compression ratio (summable: low-rank or 4-bit with a shared scale)")
    g.add_argument("--bucket-choices", type=lambda s: parse_list(s, float),
                   default=[0.25, 1, 4, 16, 25, 64], help="bucket sizes tried, MiB")
    g.add_argument("--node-size", type=positive(int), default=8,
                   help="ranks per node of the hierarchical ring")
    g.add_argument("--intra-gbytes", type=positive(float), default=150,
                   help="ASSUMED bandwidth inside a node (NVLink class), GB/s per rank")
    g.add_argument("--intra-alpha-us", type=positive(float), default=2,
                   help="latency per message inside a node, us")
    g.add_argument("--batch-scale", type=positive(float), default=4,
                   help="factor of the larger per-device batch")
    g = p.add_argument_group("check (2 ranks on the 2-core CPU)")
    g.add_argument("--check-step-ms", type=positive(float), default=28.2,
                   help="one rank, POCL_MAX_PTHREAD_COUNT=1, at the per-rank batch")
    g.add_argument("--check-batch", type=positive(int), default=64, help="batch per rank")
    g.add_argument("--check-1rank-ms", type=positive(float), default=28.2,
                   help="the 1-rank one-thread step the 2 ranks are compared with")
    g.add_argument("--check-1rank-batch", type=positive(int), default=64)
    g.add_argument("--check-memcpy-gbytes", type=positive(float), default=12.5,
                   help="memcpy rate at the gradient size, GB/s (--measure-memcpy measures it)")
    g.add_argument("--measure-memcpy", action="store_true")
    g.add_argument("--check-alpha-us", type=positive(float), default=2,
                   help="latency per shared-memory message, us")
    g.add_argument("--measured-2rank-ms", type=positive(float), default=None,
                   help="the measured 2-rank step (clgrad-bench dist)")
    p.add_argument("--self-test", action="store_true",
                   help="check the model's terms against hand-worked values and exit")
    a = p.parse_args(argv)
    if a.self_test:
        bad = self_test()
        for b in bad:
            print("FAIL " + b)
        print("self-test: %s" % ("%d failures" % len(bad) if bad else "all passed"))
        return 1 if bad else 0
    if a.node_size > 1 and any(n > a.node_size and n % a.node_size for n in a.ranks):
        p.error("every N above --node-size must be a multiple of it (the hierarchical ring of the changes table)")

    scs = scenarios(a)
    parts = {"compute": lambda: section_compute(a, scs), "terms": lambda: section_terms(a, scs),
             "efficiency": lambda: section_efficiency(a, scs),
             "limits": lambda: section_limits(a, scs),
             "changes": lambda: section_changes(a, scs), "check": lambda: section_check(a)}
    for name, fn in parts.items():
        if a.only in ("all", name):
            fn()
    return 0


if __name__ == "__main__":
    sys.exit(main())
