# Fresh machine: `make demo` runs the main job, `make test` runs the tests (both set up .venv first).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PACKAGES := lemur-core lemur-data lemur-envs lemur-eval lemur-train
EDITABLE := $(foreach p,$(PACKAGES),-e packages/$(p)[test])
STAMP := $(VENV)/.lemur-installed
PIP := $(PY) -m pip install --quiet
# This machine's pip config names mirror folders that may be absent; drop those warnings only.
QUIET_PIP := { grep -v "^WARNING: Location 'file:" || true; }

.PHONY: setup test lint demo clean

setup: $(STAMP)

$(STAMP): $(wildcard packages/*/pyproject.toml) tools/requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first and pinned: 2.13.0 is the CPU build on this machine's disk.
	set -o pipefail; $(PIP) torch==2.13.0 2>&1 | $(QUIET_PIP)
	set -o pipefail; $(PIP) $(EDITABLE) -r tools/requirements-dev.txt 2>&1 | $(QUIET_PIP)
	@touch $@

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: setup lint
	$(PY) tools/run_tests.py $(PYTEST_ARGS)

demo: setup
	$(PY) tools/demo.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
