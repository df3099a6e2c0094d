# Every target CI uses is here; .ci/run calls `make ci`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP_FLAGS ?= --disable-pip-version-check --quiet
# `make bench BENCH="--only end-to-end memory"`, `make bench BENCH=--quick` (see docs/benchmarks.md)
BENCH ?=

.PHONY: install demo test test-postgres lint typecheck check ci bench docker-check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_FLAGS) --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) -e '.[dev]'
	touch $@

install: $(VENV)/.installed  ## create .venv and install the monitor with its dev tools

demo: install  ## make test images and a hash list in code, scan them on SQLite, show the hits
	$(BIN)/monitor demo

test: install  ## the whole test suite (PostgreSQL store tests run when 127.0.0.1:5432 answers)
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check monitor tests migrations benchmarks
	$(BIN)/ruff format --check monitor tests migrations benchmarks

typecheck: install
	$(BIN)/mypy

check: lint typecheck test

ci: install lint typecheck  ## what .ci/run does: lint, types, the suite with PostgreSQL required
	MONITOR_TEST_REQUIRE_POSTGRES=1 $(BIN)/pytest -q

$(VENV)/.bench-installed: pyproject.toml | $(VENV)/.installed
	$(BIN)/pip install $(PIP_FLAGS) -e '.[dev,bench]'
	touch $@

bench: $(VENV)/.bench-installed  ## every benchmark, one table of figures against the targets
	$(BIN)/python -m benchmarks $(BENCH)

docker-check: install  ## no Docker engine needed: hadolint, the Dockerfile's stages in fresh venvs, the entrypoint
	HADOLINT=$(BIN)/hadolint PYTHON=$(PYTHON) bash docker/check.sh

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
