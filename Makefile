# Stanchion — the two commands of the README are `make run` and `make test`.
# Everything they need (venv, Python packages, system tools) is installed here.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench chaos system-deps clean help

help:
	@echo "make run    - start the embedded default (simulator + engine on loopback)"
	@echo "make test   - install everything the tests need, then lint, typecheck and run the suite"
	@echo "make bench  - run every benchmark, print a table, write bench/results/latest.json"
	@echo "make chaos  - the long chaos run"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall when the dependency list or a compiled module changes (setup.py builds
# stanchion.book._native and stanchion.venues.binance._wire, _sign and _reflex with the
# machine's C compiler; decisions 0003 §7, §8 and 0004).
$(STAMP): pyproject.toml setup.py src/stanchion/book/_native.c src/stanchion/venues/binance/_wire.c \
		src/stanchion/venues/binance/_sign.c src/stanchion/venues/binance/_reflex.c src/stanchion/venues/binance/_json_scan.h | $(BIN)/python
	bash scripts/install-build-deps.sh $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(VENV)/.bench-installed: pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@

system-deps:
	bash scripts/install-system-deps.sh

run: $(STAMP)
	$(BIN)/stanchion run

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts

typecheck: $(STAMP)
	$(BIN)/mypy --strict src/

unit: $(STAMP)
	$(BIN)/python -m pytest -q

test: system-deps $(STAMP) lint typecheck
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: $(VENV)/.bench-installed
	$(BIN)/python -m bench

chaos: system-deps $(STAMP)
	$(BIN)/python -m pytest -q -m long

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
