#!/usr/bin/env bash
# The checks for a machine with a real GPU, in one script under 8 minutes: the matmul parity
# tests (f32 and f16 storage), the per-class tuning check and the updates from factors (the
# fused input gradient's subgroup sums), the criterion matmul benches,
# `wgtrain bench` (mlp, wide, deep at batch 1, 128 and 1024, JSON) and the tuner's choices,
# then a table of GFLOP/s against the card's FP32 peak.
#
#   scripts/gpu-check.sh                 build here and run here (output in gpu-check-out/)
#   scripts/gpu-check.sh pack DIR        build release binaries here and copy them into DIR
#   scripts/gpu-check.sh run DIR OUT     run the checks from DIR's binaries; logs and JSON in OUT
#   QUICK=1 scripts/gpu-check.sh ...     the same with one model and small shapes (a smoke run)
#
# `pack` then `run` serve a GPU machine that has no Rust toolchain or network: carry DIR there
# (about 60 MB; the binaries are x86-64 Linux, built against this machine's glibc). The peak
# comes from PEAK_GFLOPS, else from the adapter's name (the table below: FP32, non-tensor
# cores, the card's boost clock), else is left out. Each step has its own time limit; a step
# that fails is reported and the others still run. Exit status: 0 when every step passed.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)

pack() {
    local dir=$1
    mkdir -p "$dir"
    cd "$here" || exit 1
    cargo build --release --bin wgtrain || exit 1
    # The test and bench executables, as cargo names them (a hash in the file name).
    local listing="$dir/.cargo-artifacts.json"
    (cargo test --release --no-run --message-format=json --test matmul --test matmul_f16 --test tune_classes --test suite &&
        cargo bench --no-run --message-format=json --bench matmul) >"$listing" || exit 1
    cp target/release/wgtrain "$dir/wgtrain"
    python3 - "$dir" "$listing" <<'PY' || exit 1
import json, shutil, sys
dest = sys.argv[1]
for line in open(sys.argv[2]):
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    exe = msg.get("executable")
    if msg.get("reason") == "compiler-artifact" and exe:
        kind = msg["target"]["kind"]
        if kind in (["test"], ["bench"]):
            shutil.copy(exe, f"{dest}/{kind[0]}-{msg['target']['name']}")
PY
    rm -f "$listing"
    ls -l "$dir"
}

# step NAME SECONDS COMMAND...: run with a limit, log to $out/NAME.log, record pass or fail.
step() {
    local name=$1 limit=$2
    shift 2
    local start=$SECONDS
    timeout --kill-after=10 "$limit" "$@" >"$out/$name.log" 2>&1
    local rc=$?
    local verdict=passed
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then verdict="stopped at its ${limit} s limit"; elif [ $rc -ne 0 ]; then verdict="failed (exit $rc)"; fi
    printf '%-14s %-32s %4d s\n' "$name" "$verdict" $((SECONDS - start)) | tee -a "$out/steps.txt"
    [ $rc -eq 0 ] || failed=1
}

run() {
    local dir out
    dir=$(cd "$1" && pwd) || exit 1
    mkdir -p "$2" && out=$(cd "$2" && pwd) || exit 1
    failed=0
    : >"$out/steps.txt"
    export WGTRAIN_CACHE_DIR="$out/cache"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv >"$out/nvidia-smi.csv" 2>&1
    step info 120 "$dir/wgtrain" info --device gpu --json
    step parity 180 "$dir/test-matmul" --test-threads 4
    step parity-f16 120 "$dir/test-matmul_f16" --test-threads 4
    step tune-classes 180 "$dir/test-tune_classes" --test-threads 1 --nocapture
    # The updates that form weight and input gradients from factors (subgroup sums on GPUs
    # whose subgroups are one size), against the plain update and the product.
    step update-parity 120 "$dir/test-suite" input_in_update deferred --test-threads 2
    # QUICK=1: a smoke run of the script itself on a slow adapter (lavapipe): fewer shapes.
    local filter=gpu models=mlp,wide,deep batches=1,128,1024
    [ "${QUICK:-0}" = 1 ] && filter='gpu.*/128\^3' models=mlp batches=1,128
    step criterion 240 "$dir/bench-matmul" --bench "$filter" --warm-up-time 0.5 --measurement-time 1.5 --noplot
    step bench 240 "$dir/wgtrain" bench --device gpu --models "$models" --batch "$batches" --repeats 3 --json -o "$out/bench.json"
    # The tuner's choices after the bench: the adapter's and each shape class's.
    step tuner 60 "$dir/wgtrain" info --device gpu
    cp "$out/info.log" "$out/info.json" 2>/dev/null
    summary "$out" | tee "$out/summary.txt"
    return $failed
}

summary() {
    python3 - "$1" <<'PY'
import json, os, re, sys
out = sys.argv[1]
# FP32 peak (non-tensor), GFLOP/s, by a fragment of the adapter's name.
PEAKS = [("H200", 66_900), ("H100 PCIe", 51_200), ("H100", 66_900), ("A100", 19_500), ("L40S", 91_600),
         ("L4", 30_300), ("A10", 31_200), ("RTX 4090", 82_600), ("RTX 3090", 35_600), ("T4", 8_100)]
def load(name):
    try:
        with open(os.path.join(out, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
info, bench = load("info.json"), load("bench.json")
adapter = (info or {}).get("chosen", "unknown adapter")
peak = float(os.environ["PEAK_GFLOPS"]) if os.environ.get("PEAK_GFLOPS") else next((p for k, p in PEAKS if k in adapter), None)
print(f"\nadapter: {adapter}")
print(f"FP32 peak: {peak:,.0f} GFLOP/s" if peak else "FP32 peak: unknown (set PEAK_GFLOPS)")
tuning = (info or {}).get("matmul_tuning", {})
print(f"matmul tiling: {tuning.get('chosen')} ({tuning.get('how')}); screen GFLOP/s: "
      + ", ".join(f"{k} {v:.1f}" for k, v in tuning.get("gflops", {}).items()))
def pct(g):
    return f"{100 * g / peak:6.2f}%" if peak and g is not None else "     -"
print("\ncriterion matmul (GPU; median GFLOP/s):")
try:
    text = open(os.path.join(out, "criterion.log")).read()
    for name, value, unit in re.findall(r"^(\S+/\S+)\s*\n?\s*time:[^\n]*\n\s*thrpt:\s*\[\s*\S+ \S+\s+(\S+) (\S+)", text, re.M):
        g = float(value) * {"Kelem/s": 1e-6, "Melem/s": 1e-3, "Gelem/s": 1.0, "Telem/s": 1e3}.get(unit, float("nan"))
        print(f"  {name:<48} {g:10.1f}  {pct(g)}")
except OSError:
    print("  (no criterion log)")
print("\nwgtrain bench (median samples/s; GFLOP/s of the step):")
print(f"  {'model':<6} {'batch':>5} {'train/s':>10} {'infer/s':>10} {'train GF/s':>11} {'':>7} {'infer GF/s':>11} {'':>7} {'wall/dev':>8}")
for r in (bench or {}).get("rows", []):
    ratio = r["step_ms"] / r["device_ms"] if r.get("device_ms") else float("nan")
    print(f"  {r['model']:<6} {r['batch']:>5} {r['train']['median']:>10.0f} {r['infer']['median']:>10.0f} "
          f"{r['train_gflops']:>11.1f} {pct(r['train_gflops'])} {r['infer_gflops']:>11.1f} {pct(r['infer_gflops'])} {ratio:>8.2f}")
print("\nsteps:")
print(open(os.path.join(out, "steps.txt")).read())
PY
}

case "${1:-}" in
    pack) [ $# -eq 2 ] || { echo "usage: $0 pack DIR" >&2; exit 2; }; pack "$2" ;;
    run) [ $# -eq 3 ] || { echo "usage: $0 run DIR OUT" >&2; exit 2; }; run "$2" "$3" ;;
    "") pack "$here/target/gpu-check" && run "$here/target/gpu-check" "$here/gpu-check-out" ;;
    *) echo "usage: $0 [pack DIR | run DIR OUT]" >&2; exit 2 ;;
esac
