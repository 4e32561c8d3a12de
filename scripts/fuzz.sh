#!/usr/bin/env bash
# `make fuzz`: schemathesis against /openapi.json of a real server, within a bounded budget.
#
# The server (CPU, light warm-up, keys required, an admin key made for the run) runs from
# .venv; schemathesis runs from its own locked environment (.cache/fuzz-venv, from
# requirements/fuzz.txt). Every check runs but positive_data_acceptance, which would ask
# the server to take whatever the schema allows (an empty CSV, a demo set over the body
# limit): limits and the contents of text bodies are the server's to judge, and say so
# with a 4xx. A 5xx, an undocumented status or content type, a response that does not
# match its schema, a request without a key that is not refused: each fails the run.
#
#   FUZZ_EXAMPLES (default 40) test cases per operation and phase, FUZZ_SEED (default 1),
#   FUZZ_TIME (default 120) seconds of fuzzing at most.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${STREAMING_UMAP_PYTHON:-$PWD/.venv/bin/python}
fuzz=$(realpath "${FUZZ_VENV:-.cache/fuzz-venv}")/bin/schemathesis
work=$(mktemp -d)
port=$("$python" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
export STREAMING_UMAP_DATA_DIR="$work/data" STREAMING_UMAP_LOG_DIR="$work/logs" \
       STREAMING_UMAP_BACKEND=cpu STREAMING_UMAP_WARMUP=light STREAMING_UMAP_AUTH=required \
       GPU_UMAP_MAX_CONCURRENT_JOBS=1 STREAMING_UMAP_MAX_BODY_MB=16 \
       NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$PWD/.cache/numba}"
key=$("$python" -m streaming_umap.cli keys create fuzz --admin 2>/dev/null)
"$python" -m streaming_umap.cli serve --host 127.0.0.1 --port "$port" >"$work/server.out" 2>&1 &
server=$!
stop() {
  kill -INT "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap stop EXIT
for _ in $(seq 600); do
  if "$python" -c "import sys, urllib.request as u; r = u.Request('http://127.0.0.1:$port/health', headers={'Authorization': 'Bearer $key'}); sys.exit(0 if b'\"status\":\"ok\"' in u.urlopen(r, timeout=2).read() else 1)" 2>/dev/null; then
    break
  fi
  kill -0 "$server" 2>/dev/null || { tail -40 "$work/server.out"; exit 1; }
  sleep 0.5
done
status=0
cd "$work"  # what schemathesis keeps of a run stays out of the checkout
"$fuzz" run "http://127.0.0.1:$port/openapi.json" \
  --header "Authorization: Bearer $key" \
  --checks all --exclude-checks positive_data_acceptance \
  --phases coverage,fuzzing,stateful \
  --max-examples "${FUZZ_EXAMPLES:-40}" --seed "${FUZZ_SEED:-1}" --max-time "${FUZZ_TIME:-120}" \
  --request-timeout 60 --generation-database none --no-color || status=$?
if grep -q "Traceback" "$work/logs/umap_service.log"; then
  echo "the server logged a traceback while fuzzed:"; grep -B2 -A20 "Traceback" "$work/logs/umap_service.log" | head -80
  status=1
fi
exit "$status"
