#!/usr/bin/env bash
# `make check-latest`: install the newest releases that pyproject.toml allows into a scratch
# venv, then run the unit tests and the generated-types check against them. Exit 0 when
# they pass; otherwise name the packages that moved since requirements/test.txt, so the
# release that broke us is easy to find. The locked commands (make run/test, CI) are not
# affected either way: this is the early warning.
#
# `scripts/check-latest.sh prepare` only installs (CI does it in the background while the
# locked tests run); a run within 3 hours of it uses that install instead of making its own,
# unless pyproject.toml or a file under src/ changed since (the install holds a copy of them).
set -uo pipefail
cd "$(dirname "$0")/.."
venv=.cache/latest-venv
log=.cache/check-latest.log
mkdir -p .cache/locks

prepare() {
  if [ -n "$(find "$venv/.installed" -mmin -180 2>/dev/null)" ] \
     && [ -z "$(find src pyproject.toml \( -name __pycache__ -o -name '*.egg-info' \) -prune \
                -o -newer "$venv/.installed" -print -quit)" ]; then
    echo "check-latest: using the install in $venv from $(date -r "$venv/.installed" +%H:%M)"
    return 0
  fi
  rm -rf "$venv"
  "${PYTHON:-python3}" -m venv "$venv"
  echo "check-latest: installing the newest allowed releases into $venv"
  # the build tools too (requirements/build.in), so they are compared like the rest
  if ! "$venv/bin/python" -m pip install -q --upgrade '.[test]' setuptools wheel >"$log" 2>&1; then
    cat "$log"; echo "check-latest: the newest allowed releases do not install together (see above)"
    return 1
  fi
  touch "$venv/.installed"
}

# one install at a time (the background prepare and a run may overlap)
exec 9>.cache/locks/check-latest
flock 9
prepare || exit 1
[ "${1:-}" = prepare ] && exit 0
moved=$("$venv/bin/python" scripts/lock_drift.py requirements/test.txt)
echo "check-latest: compared with requirements/test.txt:"; echo "$moved" | sed 's/^/  /'
failed=()
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests/unit || failed+=("unit tests")
(cd web && STREAMING_UMAP_PYTHON="$PWD/../$venv/bin/python" node scripts/gen-types.mjs --check) \
  || failed+=("generated types (web/src/generated/openapi.ts)")
if [ ${#failed[@]} -gt 0 ]; then
  echo "check-latest: FAILED with the newest allowed releases: ${failed[*]}."
  echo "check-latest: the packages that moved since the lock (one of them is the cause):"
  echo "$moved" | sed 's/^/  /'
  exit 1
fi
echo "check-latest: the newest allowed releases pass the unit tests and the generated-types check"
