# streaming-umap: `make run` serves on port 8003 (PORT=... overrides), `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8003
export NUMBA_CACHE_DIR ?= $(CURDIR)/.cache/numba

.PHONY: install run test test-python test-web web-deps bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test,client]'
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/streaming-umap serve --port $(PORT)

test: install test-python test-web

test-python: install
	$(BIN)/python -m pytest

# Browser tests need Node 20+ and Debian's chromium (installed here when missing).
web-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }
	cd web && npm ci --no-audit --no-fund

test-web: install web-deps
	cd web && npm run check && npm test && STREAMING_UMAP_PYTHON=$(CURDIR)/$(BIN)/python npm run e2e

bench: install
	$(BIN)/streaming-umap bench --profile quick

clean:
	rm -rf $(VENV) .cache .pytest_cache web/node_modules
