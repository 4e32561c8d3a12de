# streaming-umap: `make run` serves on port 8003 (PORT=... overrides), `make test` runs every test.
# Our commands install the hashed lock files in requirements/ (exact versions, checked
# hashes), never whatever was released last; `make lock` rewrites them (see the README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
PORT ?= 8003
LOCK_TOOLS := .cache/lock-tools
FUZZ_VENV := .cache/fuzz-venv
LOCKS := .cache/locks
export NUMBA_CACHE_DIR ?= $(CURDIR)/.cache/numba

.PHONY: install install-test install-bench run test test-python test-web web-deps bench \
        lock check-latest fuzz prefetch clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# One stamp per lock file: a set is installed again when its lock changes. The sets share
# versions (make lock resolves them together), so installing one over another only adds.
$(VENV)/.locked-%: requirements/%.txt | $(BIN)/python
	$(PIP) install -q --require-hashes -r $<
	touch $@

# Our own package, from this checkout, with the build tools the lock installed.
$(VENV)/.editable: pyproject.toml | $(VENV)/.locked-server
	$(PIP) install -q --no-deps --no-build-isolation -e .
	touch $@

install: $(VENV)/.locked-server $(VENV)/.editable
	@$(PIP) check >/dev/null || { $(PIP) check; echo "the lock files miss a dependency of pyproject.toml: run make lock"; exit 1; }

install-test: $(VENV)/.locked-test install
install-bench: $(VENV)/.locked-bench install

run: install
	$(BIN)/streaming-umap serve --port $(PORT)

test: install-test test-python test-web

# The suite in TEST_WORKERS processes (pytest-xdist), a test file to each at a time: most
# tests wait on servers and workers, so two processes on two cores finish well before one.
# Each process starts its own shared services; TEST_WORKERS=0 runs it in this one.
# The numba cache is filled first, once (on a fresh clone about 170 s on 2 cores; then a
# second), instead of by the first server of each test process at the same time.
TEST_WORKERS ?= 2
test-python: install-test
	$(BIN)/streaming-umap warm-cache
	$(BIN)/python -m pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

# Browser tests need Node 20.19+ (web/.nvmrc) and Debian's chromium (installed here when missing).
# Each install holds a lock (flock), so that CI's background prefetch and make test's own
# web-deps never run one at the same time; the second one finds it done.
web-deps:
	@mkdir -p $(LOCKS)
	@flock $(LOCKS)/chromium sh -c 'command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }'
	@flock $(LOCKS)/npm sh -c '[ web/node_modules/.installed -nt web/package-lock.json ] || { \
	  (cd web && npm ci --no-audit --no-fund) && touch web/node_modules/.installed; }'

test-web: install-test web-deps
	cd web && npm run check && npm test && STREAMING_UMAP_PYTHON=$(CURDIR)/$(BIN)/python npm run e2e

# schemathesis against /openapi.json of a real server (scripts/fuzz.sh), from its own locked
# environment; a bounded budget (FUZZ_TIME seconds, FUZZ_EXAMPLES cases per operation).
$(FUZZ_VENV)/.installed: requirements/fuzz.txt
	@mkdir -p $(LOCKS)
	@flock $(LOCKS)/fuzz sh -c '[ $@ -nt requirements/fuzz.txt ] || { \
	  $(PYTHON) -m venv $(FUZZ_VENV) && \
	  $(FUZZ_VENV)/bin/python -m pip install -q --require-hashes -r requirements/fuzz.txt && touch $@; }'

fuzz: install $(FUZZ_VENV)/.installed
	STREAMING_UMAP_PYTHON=$(CURDIR)/$(BIN)/python FUZZ_VENV=$(FUZZ_VENV) scripts/fuzz.sh

bench: install-bench
	$(BIN)/streaming-umap bench --profile quick

# Rewrite requirements/*.txt from pyproject.toml (LOCK_UPGRADE=1: newest allowed releases).
$(LOCK_TOOLS)/.installed: requirements/tools.txt
	$(PYTHON) -m venv $(LOCK_TOOLS)
	$(LOCK_TOOLS)/bin/python -m pip install -q --require-hashes -r requirements/tools.txt
	touch $@

lock: $(LOCK_TOOLS)/.installed
	scripts/lock.sh $(LOCK_TOOLS)/bin/uv

# The newest releases our ranges allow, in a scratch venv: unit tests and the generated-types
# check. Finds the next incompatible release before a fresh install does; never blocks CI.
check-latest: web-deps
	scripts/check-latest.sh

# What make test's browser step, make fuzz and make check-latest install, without running
# them: CI starts it in the background (at low priority) while the Python tests run, since
# these installs mostly wait on the network and the disk.
prefetch:
	$(MAKE) --no-print-directory web-deps $(FUZZ_VENV)/.installed
	scripts/check-latest.sh prepare

clean:
	rm -rf $(VENV) .cache .pytest_cache web/node_modules
