#!/bin/sh
# One device's report: the probe with its self-test, the tuner with a short budget, the op
# benchmarks (SGEMM with our kernels, CLBlast and OpenBLAS; the CNN's convolutions;
# elementwise ops against the device's copy bandwidth) and one epoch of the reference CNN,
# summed up as one markdown table row (docs/devices.md keeps one per device ever tried).
#
# usage: sh scripts/device-report.sh [options]
#   --build DIR        build folder with tools/ (default: build)
#   --device SEL       device selector (default: $CLGRAD_DEVICE, else the best device)
#   --budget S         seconds for the tuner (default 60)
#   --batches N        training batches for the CNN (default: the whole epoch; the epoch time
#                      is then extrapolated from the measured samples/s)
#   --peak-gflops X    the device's FP32 peak (default: an estimate, marked "est.")
#   --quick            small benchmark sizes and one repetition (a smoke run, for the suite)
#   --out FILE         also write the report (row and details) to FILE
#   --devices-md FILE  put the row into FILE's table, replacing the row of the same device
#                      and driver (e.g. docs/devices.md)
# The raw JSON of every step is kept in a folder named at the end. Tuning results go to
# the cache folder ($CLGRAD_CACHE_DIR, else the default), where later runs use them.
# Exit status: 0 report written (a failed self-test shows in the row), 1 a step could not
# run at all, 2 bad usage.
set -eu

build=build
device=${CLGRAD_DEVICE:-}
budget=60
batches=
peak=
quick=0
out=
devices_md=
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --budget) budget=$2; shift 2 ;;
    --batches) batches=$2; shift 2 ;;
    --peak-gflops) peak=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --out) out=$2; shift 2 ;;
    --devices-md) devices_md=$2; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "device-report: unknown option $1" >&2; exit 2 ;;
  esac
done

probe=$build/tools/probe/clgrad-probe
bench=$build/tools/bench/clgrad-bench
train=$build/tools/train/clgrad-train
for t in "$probe" "$bench" "$train"; do
  [ -x "$t" ] || { echo "device-report: $t is missing (build first, or pass --build)" >&2; exit 1; }
done
case "$build" in /*) ;; *) build=$(pwd)/$build; probe=$build/tools/probe/clgrad-probe
  bench=$build/tools/bench/clgrad-bench; train=$build/tools/train/clgrad-train ;; esac

raw=$(mktemp -d "${TMPDIR:-/tmp}/clgrad-device-report-XXXXXX")
dev_args=
[ -n "$device" ] && dev_args="--device $device"
if [ "$quick" = 1 ]; then mm_args="--sizes 256,512 --reps 1"; reps="--reps 1"; else mm_args=""; reps=""; fi

step() { printf 'device-report: %s\n' "$1" >&2; }

step "probe and self-test"
# shellcheck disable=SC2086
"$probe" --json $dev_args > "$raw/probe.json" || true  # a failed self-test is reported, not fatal
step "tuner (budget ${budget} s)"
# shellcheck disable=SC2086
"$probe" --tune --budget "$budget" --json $dev_args > "$raw/tune.json" || true
for what in matmul conv elementwise; do
  step "clgrad-bench $what"
  args=$reps
  [ "$what" = matmul ] && args=$mm_args
  # shellcheck disable=SC2086
  "$bench" "$what" --json $args $dev_args > "$raw/$what.json" 2> "$raw/$what.log" || {
    echo "device-report: clgrad-bench $what failed:" >&2; cat "$raw/$what.log" >&2; exit 1; }
done
step "one epoch of the reference CNN"
train_args="--epochs 1"
[ -n "$batches" ] && train_args="$train_args --limit-batches $batches"
# shellcheck disable=SC2086
(cd "$raw" && "$train" $train_args $dev_args > train.log 2>&1; echo $? > train.rc) || true

python3 - "$raw" "$peak" "$batches" "$out" "$devices_md" <<'EOF'
import datetime, json, os, re, sys

raw, peak_arg, batches, out, devices_md = sys.argv[1:6]

def load(name):
    try:
        with open(os.path.join(raw, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None

def selected(doc):
    for d in (doc or {}).get("devices", []):
        if d.get("selected") or d.get("tuning"):
            return d
    return None

probe, tune = selected(load("probe.json")), selected(load("tune.json"))
if not probe:
    sys.exit("device-report: the probe found no device (%s/probe.json)" % raw)
cap = probe["capabilities"]
name, driver = probe["name"], cap["driver_version"]
st = probe.get("selftest", {})
selftest = "%d/%d passed" % (st.get("passed", 0), st.get("passed", 0) + st.get("failed", 0))
if st.get("failed"):
    selftest += " (FAIL: %s)" % ", ".join(f["kernel"] for f in st.get("failures", [])[:4])

# the largest SGEMM of the benchmark, per provider
mm = (load("matmul.json") or {}).get("results", [])
def size(r):
    dims = [int(x) for x in r["shape"].replace("x", " ").split()]
    return dims[0] * dims[1] * dims[2] if len(dims) == 3 else dims[0] ** 3
largest = max((size(r) for r in mm), default=0)
sg = {r["provider"]: r["gflops"] for r in mm if size(r) == largest and r.get("gflops")}
sg_shape = next((r["shape"] for r in mm if size(r) == largest), "?")

# FP32 peak: given, or compute units x clock x FMA lanes x 2 (CPUs: two FMA pipes of the
# native float vector width per core; others: 64 lanes per compute unit)
cu, mhz = cap["compute_units"], cap["clock_mhz"]
if peak_arg:
    peak, peak_note = float(peak_arg), ""
else:
    vw = (tune or probe).get("tuning", {}).get("native_vector_width_float") or 4
    lanes = 2 * vw if probe["type"] == "cpu" else 64
    peak, peak_note = cu * mhz * lanes * 2 / 1e3, " est."
def pct(v):
    return "%.0f%%" % (100 * v / peak) if v and peak > 0 else "n/a"

bw = probe.get("bench", {}).get("bandwidth_gbs")
ew = (load("elementwise.json") or {}).get("results", [])
copy = next((r.get("gbs") for r in ew if r["op"] == "copy"), None)

# the CNN: samples/s of the epoch line, the epoch time for the 60000 training images
try:
    log = open(os.path.join(raw, "train.log")).read()
    rc = int(open(os.path.join(raw, "train.rc")).read().strip() or 1)
except (OSError, ValueError):
    log, rc = "", 1
m = re.search(r"([0-9.]+) samples/s", log)
if rc == 0 and m:
    sps = float(m.group(1))
    epoch = "%.1f" % (60000 / sps) + (" (from %s batches)" % batches if batches else "")
else:
    epoch = "n/a (%s)" % (log.strip().splitlines()[-1][:60] if log.strip() else "did not run")

t = (tune or {}).get("tuning", {})
run = t.get("last_run", {})
kept = [s for s in ("gemm", "conv", "reduce") if run.get(s, {}).get("accepted")]
tuned = "tuned: " + (", ".join(kept) if kept else "table values kept") if run else "not tuned"
conv = {r["shape"]: r["ms"] for r in (load("conv.json") or {}).get("results", []) if r["op"] == "conv2d_fwd_bwd"}
cnn_conv = sum(v for k, v in conv.items() if k.startswith("1->32") or k.startswith("32->64"))

header = ("| device | driver | self-test | SGEMM own / CLBlast GFLOP/s | % of FP32 peak | copy GB/s "
          "| CNN epoch s | date | notes |")
rule = "|---|---|---|---|---|---|---|---|---|"
row = "| %s | %s | %s | %s / %s (%s) | %s / %s of %.0f%s | %s | %s | %s | %s; CNN convs fwd+bwd %.1f ms |" % (
    name, driver, selftest,
    "%.1f" % sg["own"] if "own" in sg else "n/a", "%.1f" % sg["clblast"] if "clblast" in sg else "n/a", sg_shape,
    pct(sg.get("own")), pct(sg.get("clblast")), peak, peak_note,
    "%.1f" % bw if bw else ("%.1f" % copy if copy else "n/a"), epoch,
    datetime.date.today().isoformat(), tuned, cnn_conv)

details = ["", "Raw results: %s" % raw]
for stage in ("gemm", "conv", "reduce"):
    s = run.get(stage)
    if not s:
        continue
    details.append("")
    details.append("Tuner, %s: %s" % (stage, "tuned values kept" if s.get("accepted") else "table values kept"))
    rows = s.get("shapes", [])
    if rows:
        details.append("")
        details.append("| shape | default ms | tuned ms | speedup |")
        details.append("|---|---|---|---|")
        for r in rows:
            details.append("| %s | %.3f | %.3f | %.2fx |" % (r["shape"], r["default_ms"], r["tuned_ms"], r["speedup"]))
text = "\n".join([header, rule, row] + details) + "\n"
sys.stdout.write(text)
if out:
    with open(out, "w") as f:
        f.write(text)
if devices_md:
    lines = open(devices_md).read().splitlines() if os.path.exists(devices_md) else []
    key = "| %s | %s |" % (name, driver)
    replaced = False
    for i, line in enumerate(lines):
        if line.startswith(key):
            lines[i], replaced = row, True
    if not replaced:
        # append after the last table row (or start the table)
        last = max((i for i, l in enumerate(lines) if l.startswith("|")), default=-1)
        if last < 0:
            lines += ["", header, rule, row]
        else:
            lines.insert(last + 1, row)
    with open(devices_md + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(devices_md + ".tmp", devices_md)
EOF
