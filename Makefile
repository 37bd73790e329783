# Two commands: `make run` (the workflow) and `make test` (the test suite).
# Both build .venv from the pinned requirements on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# make run DATA=path/to/folder: use a local copy of the four MNIST files, no download.
DATA ?=
# Anything else for Snakemake, e.g. make run ARGS="-n" or ARGS="--forcerun train".
ARGS ?=
CONFIG_ARGS := $(if $(DATA),--config 'mnist={local_dir: $(DATA)}')

.PHONY: run test lint report

$(BIN)/.installed: requirements.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -c constraints.txt
	touch $@

run: $(BIN)/.installed
	$(BIN)/snakemake --profile profiles/default $(CONFIG_ARGS) $(ARGS)

test: $(BIN)/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(BIN)/.installed
	$(BIN)/snakemake --lint $(CONFIG_ARGS)
	$(BIN)/snakefmt --check Snakefile rules

report: $(BIN)/.installed
	$(BIN)/snakemake --profile profiles/default $(CONFIG_ARGS) --report report.html
