#!/usr/bin/env bash
# GPU check for the cuML backend (issue 3): versions, the GPU tests, the GPU benchmark,
# then the shared contract suite on the GPU backend with whatever time is left.
#
# On the GPU machine, from the repository root, once the wheels are installed:
#   bash .gpu-wheels/install-on-gpu.sh /tmp/parts && bash scripts/gpu_check.sh
# Everything lands in $OUT (at most 8 flat files):
#   gpu-versions.txt   device, driver, CUDA/cuML/CuPy/RMM versions, nvidia-smi
#   gpu-pytest.txt     tests/test_gpu.py (pass/fail per test)
#   gpu-bench.json     benchmarks/bench_gpu.py figures (rewritten as it goes)
#   gpu-bench.md       the same as a table against the goals
#   gpu-bench.log      the benchmark's log
#   gpu-contract.txt   pytest -m gpu over the other test files (the contract suite)
#   gpu-server-logs.txt  the tail of every test server's log (for failures)
#   gpu-summary.txt    one line per step: exit code and seconds
# GPU_CHECK_BUDGET (default 500 s) bounds the whole script; each step has its own cap
# (tests 170 s, benchmark 260 s); the contract suite gets what is left. Measured on an
# H200: versions 23 s, tests 126 s, contract suite 35 s; the benchmark with 1M rows and
# its kNN experiments is budgeted at ~200 s. GPU_CHECK_TEST_CAP and GPU_CHECK_BENCH_CAP
# change the caps; GPU_CHECK_BENCH_ARGS is passed to the benchmark (e.g. a shorter
# "--sizes 10000,100000 --steps umap,immediate,cluster" for a recheck); GPU_CHECK_VERSIONS=0
# skips the versions step (~20 s: it imports cuML in a fresh process).
# --dry-run: no GPU needed; checks the script's plumbing (CPU service, tiny benchmark).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-/tmp/gpu-check-out}
mkdir -p "$OUT"
BUDGET=${GPU_CHECK_BUDGET:-500}
DRY=0
[ "${1:-}" = "--dry-run" ] && DRY=1
START=$SECONDS
PY=${PYTHON:-python3}
export PYTHONPATH="/tmp/site:$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
export NUMBA_CACHE_DIR=${NUMBA_CACHE_DIR:-$ROOT/.cache/numba}
export STREAMING_UMAP_TEST_READY_TIMEOUT=${STREAMING_UMAP_TEST_READY_TIMEOUT:-150}
BASETEMP=/tmp/gpu-check-pytest
SUMMARY="$OUT/gpu-summary.txt"
: > "$SUMMARY"

left() { echo $(( BUDGET - (SECONDS - START) )); }
cap() {  # cap WANTED: seconds a step may take, within what is left (minus a margin)
  local want=$1 l
  l=$(( $(left) - 10 ))
  (( l < want )) && want=$l
  (( want < 0 )) && want=0
  echo "$want"
}
step() {  # step NAME CAP LOGFILE COMMAND...: run with a timeout, log, and note rc + seconds
  local name=$1 limit=$2 logfile=$3; shift 3
  if (( limit < 20 )); then
    echo "$name: skipped (only $(left) s left)" | tee -a "$SUMMARY"
    return
  fi
  local t0=$SECONDS
  echo "== $name (cap ${limit} s, $(left) s left)"
  timeout -k 10 "$limit" "$@" 2>&1 | tee -a "$logfile"
  local rc=${PIPESTATUS[0]}
  echo "$name: rc=$rc in $(( SECONDS - t0 )) s$([ $rc = 124 ] && echo ' (TIMED OUT)')" | tee -a "$SUMMARY"
}

# ---------------------------------------------------------------- 1. versions
[ "${GPU_CHECK_VERSIONS:-1}" = 0 ] || {
  echo "date: $(date -u +%FT%TZ)  host: $(hostname)  kernel: $(uname -r)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.max.sm --format=csv 2>&1 || echo "no nvidia-smi"
  "$PY" - <<'EOF' 2>&1
import platform, sys, time, warnings
warnings.simplefilter("ignore")
print("python", platform.python_version(), sys.executable)
t = time.perf_counter()
try:
    import cupy, numpy, rmm
    import cuml
    p = cupy.cuda.runtime.getDeviceProperties(0)
    print("device", p["name"].decode() if isinstance(p["name"], bytes) else p["name"],
          "cc %d.%d" % (p["major"], p["minor"]), "memory %.1f GiB" % (p["totalGlobalMem"] / 2**30))
    print("driver", cupy.cuda.runtime.driverGetVersion(), "runtime", cupy.cuda.runtime.runtimeGetVersion())
    print("cuml", cuml.__version__, "cupy", cupy.__version__, "rmm", rmm.__version__, "numpy", numpy.__version__)
    print("import cuml + cupy + rmm: %.1f s" % (time.perf_counter() - t))
except Exception as exc:
    print("GPU stack not usable:", type(exc).__name__, exc)
for name in ("uvicorn", "starlette", "websockets", "msgspec", "httptools", "httpx", "sklearn", "umap", "pytest"):
    try:
        module = __import__(name)
        print(name, getattr(module, "__version__", "?"))
    except Exception as exc:
        print(name, "MISSING", exc)
from streaming_umap.backends.gpu import gpu_available
print("gpu_available()", gpu_available())
EOF
} > "$OUT/gpu-versions.txt" 2>&1
cat "$OUT/gpu-versions.txt" 2>/dev/null
echo "versions: $(( SECONDS - START )) s" >> "$SUMMARY"

if (( DRY )); then
  # no GPU: the CPU-side tests of the GPU module, and the benchmark's plumbing on a CPU service
  step "pytest (dry run)" "$(cap 300)" "$OUT/gpu-pytest.txt" \
    "$PY" -m pytest -q -p no:cacheprovider --basetemp="$BASETEMP" tests/test_gpu.py
  step "bench (dry run)" "$(cap 900)" "$OUT/gpu-bench.log" \
    "$PY" benchmarks/bench_gpu.py --out "$OUT" --dry-run --budget 60
else
  # ---------------------------------------------------------------- 2. GPU tests
  step "pytest tests/test_gpu.py" "$(cap ${GPU_CHECK_TEST_CAP:-170})" "$OUT/gpu-pytest.txt" \
    "$PY" -m pytest -q -p no:cacheprovider --durations=12 --basetemp="$BASETEMP" tests/test_gpu.py
  # ---------------------------------------------------------------- 3. benchmark
  T=$(cap ${GPU_CHECK_BENCH_CAP:-260})
  # shellcheck disable=SC2086  # GPU_CHECK_BENCH_ARGS: e.g. "--sizes 10000,100000 --steps umap,immediate"
  step "bench_gpu.py" "$T" "$OUT/gpu-bench.log" \
    "$PY" benchmarks/bench_gpu.py --out "$OUT" --budget $(( T > 60 ? T - 30 : T - 10 )) ${GPU_CHECK_BENCH_ARGS:-}
  # ---------------------------------------------------------------- 4. contract suite on the GPU
  step "pytest -m gpu (contract suite)" "$(cap 600)" "$OUT/gpu-contract.txt" \
    "$PY" -m pytest -q -p no:cacheprovider --durations=10 --basetemp="$BASETEMP-contract" -m gpu tests/ \
    --ignore=tests/test_gpu.py
fi

# ---------------------------------------------------------------- server logs (for failures)
{
  for f in "$BASETEMP"*/*/logs/umap_service.log "$BASETEMP"*/*/server.out \
           /tmp/bench-gpu-*/logs/umap_service.log /tmp/bench-gpu-*/server.out; do
    [ -f "$f" ] || continue
    echo "===== $f"
    tail -n 120 "$f" | cut -c1-400
  done
} 2>/dev/null | head -c 4000000 > "$OUT/gpu-server-logs.txt"
echo "total: $(( SECONDS - START )) s" | tee -a "$SUMMARY"
ls -la "$OUT"
