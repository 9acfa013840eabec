# ModelRollout. `make test` and `make demo` install what they need themselves:
# a venv with the package, Debian's prometheus/openssl, and the control-plane binaries
# built from their Go modules into ~/.cache/modelrollout (once).

VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: all setup system-deps binaries test unit integration lint crds lock demo dev-up dev-down bench clean

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

system-deps:
	hack/install-system-deps.sh

binaries: system-deps
	hack/build-binaries.sh >/dev/null

setup: $(STAMP) binaries

lint: $(STAMP)
	$(BIN)/ruff check operator tests bench
	$(BIN)/ruff format --check operator tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit $(PYTEST_ARGS)

integration: setup
	$(BIN)/pytest -q tests/integration $(PYTEST_ARGS)

# The whole suite: lint, the pure unit tests, then everything against the real control plane
# and the real Prometheus.
test: setup lint
	$(BIN)/pytest tests $(PYTEST_ARGS)

crds: $(STAMP)
	$(BIN)/python -m modelrollout.api.crd --out crds

# The image's dependencies, pinned with hashes (the Dockerfile installs only these).
lock:
	$(PYTHON) -m venv $(VENV)-lock
	$(VENV)-lock/bin/pip install -q pip-tools
	$(VENV)-lock/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --all-build-deps \
		--no-emit-find-links --output-file requirements.lock pyproject.toml

demo: setup
	$(BIN)/modelrollout demo

dev-up: setup
	$(BIN)/modelrollout dev up

dev-down: $(STAMP)
	$(BIN)/modelrollout dev down

bench: setup
	$(BIN)/python bench/rollback_latency.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
