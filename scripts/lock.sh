#!/usr/bin/env bash
# Regenerate the hashed lock files in requirements/ (what `make lock` runs).
#
#   scripts/lock.sh [UV]      UV: the uv to use (default: the one `make lock` installs)
#   LOCK_UPGRADE=1 scripts/lock.sh   take the newest allowed releases (without it, packages
#                                    already locked keep their versions)
#
# Ranges live in pyproject.toml (for people who `pip install streaming-umap` into their
# own environment); the locks pin every package of each set our own commands install:
#   server.txt  the service: [server]                  (make run)
#   test.txt    the service + test tools + Dask: [test] (make test, .ci/run)
#   bench.txt   the service + benchmark tools: [bench] (make bench)
#   client.txt  the Python client: the base install, nothing of the server side
#   dask.txt    the service + Dask: [dask]             (workers of a Dask cluster, CPU)
#   gpu.txt     the service on RAPIDS cuML + dask-cuda: [gpu] (Dockerfile.cuda, pip on a CUDA 13 machine)
# The test, bench, dask and gpu extras include [server] (pyproject.toml names it in each).
#   tools.txt   uv itself
# test.txt is resolved first and the CPU sets are resolved within it, so a package has the
# same version in every CPU set. gpu.txt is resolved on its own: the RAPIDS stack pins some
# packages (numba, for one) below what the CPU sets get.
set -euo pipefail
cd "$(dirname "$0")/.."
uv=${1:-.cache/lock-tools/bin/uv}
common=(--universal --python-version 3.11 --generate-hashes --quiet
        --custom-compile-command "make lock")
[ "${LOCK_UPGRADE:-0}" = 1 ] && common+=(--upgrade)
build=requirements/build.in

compile() {  # compile OUTPUT INPUT... [uv options]
  local out=$1; shift
  "$uv" pip compile "${common[@]}" -o "requirements/$out" "$@"
  echo "wrote requirements/$out ($(grep -c '^[A-Za-z0-9].*==' "requirements/$out") packages)"
}

compile tools.txt requirements/tools.in
compile fuzz.txt requirements/fuzz.in
compile test.txt pyproject.toml "$build" --extra test
compile server.txt pyproject.toml "$build" --extra server -c requirements/test.txt
compile bench.txt pyproject.toml "$build" --extra bench -c requirements/test.txt
compile client.txt pyproject.toml -c requirements/test.txt
compile dask.txt pyproject.toml "$build" --extra dask -c requirements/test.txt
compile gpu.txt pyproject.toml "$build" --extra gpu
