# `make run` (the workflow), `make compare` (the runs side by side), `make verify RUN=<run>`
# (retrain a run and check its bytes), `make test` (the test suite). Each builds .venv from
# the pinned requirements on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# make run DATA=path/to/folder: use a local copy of the data set's four files, no download.
DATA ?=
# make run SET=fashion-mnist (or kmnist): the data set; mnist when left out (config.yaml).
SET ?=
# make run CONFIG=examples/sweep-optimizers.yaml: a config file added to config.yaml.
CONFIG ?=
# Anything else for Snakemake, e.g. make run ARGS="-n" or ARGS="--forcerun train".
ARGS ?=
comma := ,
DATA_BLOCK := $(if $(SET),set: $(SET))$(if $(and $(SET),$(DATA)),$(comma) )$(if $(DATA),local_dir: $(DATA))
CONFIG_ARGS := $(if $(CONFIG),--configfile $(CONFIG)) $(if $(DATA_BLOCK),--config 'data={$(DATA_BLOCK)}')
# make compare SWEEP=<name>: that comparison (of every data set); all of them without it.
SWEEP ?=
# make verify RUN=[<data set>/]<run>: the run to retrain and check.
RUN ?=

.PHONY: run test lint report compare verify

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

compare: $(BIN)/.installed
	@PYTHONPATH=scripts $(BIN)/python -m mnist_filters.stages.compare \
	  $(or $(sort $(wildcard results/*/sweeps/$(or $(SWEEP),*)/runs.csv)),$(if $(SWEEP),results/*/sweeps/$(SWEEP)/runs.csv))

verify: $(BIN)/.installed
	@test -n "$(RUN)" || { echo "usage: make verify RUN=[<data set>/]<run> (a folder of results/<data set>/)" >&2; exit 2; }
	PYTHONPATH=scripts $(BIN)/python -m mnist_filters.verify $(RUN) -- $(CONFIG_ARGS) $(ARGS)
