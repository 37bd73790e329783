# `make help` lists the targets. Each builds .venv from the pinned requirements on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The cluster's environment: .venv plus the SLURM executor plugin (requirements-slurm.txt).
# Kept apart because Snakemake imports every installed executor plugin on every start, and
# this one costs a local run about 0.8 s (pandas), or about 9 s where SLURM's client tools
# are installed but no controller answers (it runs `scontrol show config` on import).
SLURM_VENV := .venv-slurm
# make run PROFILE=slurm: submit to SLURM (profiles/slurm), from the cluster environment.
PROFILE ?= default
SNAKEMAKE_PYTHON := $(if $(filter slurm,$(PROFILE)),$(SLURM_VENV),$(VENV))/bin/python
SNAKEMAKE_ENV := $(if $(filter slurm,$(PROFILE)),$(SLURM_VENV),$(BIN))/.installed
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
# DATA= and SET= reach Snakemake in a config file of their own, written by the recipe, not as
# --config: a `--config` in ARGS replaces an earlier --config whole, and would drop them.
DATA_CONFIG := .snakemake/mnist-filters/make-data.yaml
CONFIG_ARGS := $(if $(CONFIG)$(DATA_BLOCK),--configfile $(CONFIG) $(if $(DATA_BLOCK),$(DATA_CONFIG)))
WRITE_DATA_CONFIG := $(if $(DATA_BLOCK),mkdir -p $(dir $(DATA_CONFIG)) && echo 'data: {$(DATA_BLOCK)}' > $(DATA_CONFIG) &&)
# make compare SWEEP=<name>: that comparison (of every data set); all of them without it.
SWEEP ?=
# make verify RUN=[<data set>/]<run>: the run to retrain and check.
RUN ?=
# make tensorboard [SET=...] [PORT=6006] [RESULTS=folder]: every run's training curves in
# TensorBoard, on this machine only (127.0.0.1). RESULTS: another working directory's
# results/ (a project that uses the workflow as a module).
PORT ?= 6006
RESULTS ?= results

.PHONY: help demo run notebook test lint docs measure report compare verify tensorboard

help: ## list the targets
	@awk -F':.*## ' '/^[a-z]+:.*## / {printf "make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/.installed: requirements.txt constraints.txt
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -c constraints.txt
	touch $@

# A venv that sees .venv's packages (a .pth file) and adds only the plugin and what it needs.
$(SLURM_VENV)/.installed: $(BIN)/.installed requirements-slurm.txt constraints.txt
	$(PYTHON) -m venv --clear $(SLURM_VENV)
	$(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))' \
	  > "$$($(SLURM_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/mnist-filters-base.pth"
	$(SLURM_VENV)/bin/python -m pip install --quiet -r requirements-slurm.txt -c constraints.txt
	touch $@

# examples/demo.yaml replaces config.yaml: the demo is the same whatever config.yaml holds.
DEMO_CONFIG := --configfile examples/demo.yaml --replace-workflow-config
DEMO_REPORT := results/synthetic/report.html
DEMO_REPORT_LOG := logs/synthetic/report.log
demo: $(BIN)/.installed ## every default output on generated digits, no download (results/synthetic/demo/)
	@# the closing lines name the report the next command writes (mnist_filters/closing_message.py)
	MNIST_FILTERS_REPORT="$(DEMO_REPORT), written next" \
	  $(BIN)/python -m snakemake --profile profiles/default $(DEMO_CONFIG) $(ARGS)
	@mkdir -p $(dir $(DEMO_REPORT_LOG)) && echo "Writing $(DEMO_REPORT) (log: $(DEMO_REPORT_LOG))"
	@$(BIN)/python -m snakemake --profile profiles/default $(DEMO_CONFIG) --report $(DEMO_REPORT) \
	  > $(DEMO_REPORT_LOG) 2>&1 || { cat $(DEMO_REPORT_LOG); exit 1; }
	@echo "Done: open results/synthetic/demo/gallery/index.html, and $(DEMO_REPORT)."

run: $(SNAKEMAKE_ENV) ## the workflow (DATA=, SET=, CONFIG=, ARGS=, PROFILE=slurm)
	$(WRITE_DATA_CONFIG) $(SNAKEMAKE_PYTHON) -m snakemake --profile profiles/$(PROFILE) $(CONFIG_ARGS) $(ARGS)

notebook: $(SNAKEMAKE_ENV) ## only what the notebook made: metrics, samples, filters, top patches
	$(WRITE_DATA_CONFIG) $(SNAKEMAKE_PYTHON) -m snakemake notebook --profile profiles/$(PROFILE) $(CONFIG_ARGS) $(ARGS)

# The SLURM tests run the cluster environment (MNIST_FILTERS_SLURM_PYTHON); the rest .venv.
test: $(BIN)/.installed $(SLURM_VENV)/.installed ## the test suite (PYTEST_ARGS=)
	MNIST_FILTERS_SLURM_PYTHON=$(SLURM_VENV)/bin/python $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(BIN)/.installed ## ruff (lint and format) on the Python, snakemake --lint and snakefmt on the rules
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(WRITE_DATA_CONFIG) $(BIN)/snakemake --lint $(CONFIG_ARGS)
	$(BIN)/snakefmt --check Snakefile rules

docs: $(BIN)/.installed ## write the generated docs: settings page, file layouts, measured figures
	$(BIN)/python docs/generate.py

# The runs whose results docs/measured.json holds (docs/development.md, "Measured figures").
MEASURED_RUNS := examples/sweep-optimizers.yaml examples/transfer.yaml examples/zeiler-fergus.yaml examples/deeper.yaml examples/own-model.yaml
measure: $(SNAKEMAKE_ENV) ## remeasure the docs' figures on real data (DATA=): docs/measured.json
	$(BIN)/python examples/own_model.py $(DATA) resources/own-model/model.keras
	$(MAKE) --no-print-directory run CONFIG="$(MEASURED_RUNS)"
	$(BIN)/python docs/measured.py results/$(or $(SET),mnist)
	$(BIN)/python docs/generate.py

report: $(BIN)/.installed ## report.html of what make run made, with the same settings
	$(WRITE_DATA_CONFIG) $(BIN)/snakemake --profile profiles/default $(CONFIG_ARGS) --report report.html

compare: $(BIN)/.installed ## print the comparison tables of the sweeps (SWEEP=)
	@PYTHONPATH=scripts $(BIN)/python -m mnist_filters.stages.compare \
	  $(or $(sort $(wildcard results/*/sweeps/$(or $(SWEEP),*)/runs.csv)),$(if $(SWEEP),results/*/sweeps/$(SWEEP)/runs.csv))

verify: $(SNAKEMAKE_ENV) ## retrain RUN=[<set>/]<run> in scratch and compare its bytes
	@test -n "$(RUN)" || { echo "usage: make verify RUN=[<data set>/]<run> (a folder of results/<data set>/)" >&2; exit 2; }
	$(WRITE_DATA_CONFIG) PYTHONPATH=scripts $(SNAKEMAKE_PYTHON) -m mnist_filters.verify $(RUN) -- \
	  $(if $(filter-out default,$(PROFILE)),--profile profiles/$(PROFILE)) $(CONFIG_ARGS) $(ARGS)

tensorboard: $(BIN)/.installed ## the runs' training curves on 127.0.0.1 (SET=, PORT=, RESULTS=)
	$(BIN)/tensorboard --logdir $(RESULTS)/$(or $(SET),mnist) --host 127.0.0.1 --port $(PORT)
