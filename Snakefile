# mnist-filters: train the seed notebook's CNN and show what its filters see.
# Stages: get_mnist -> train -> (activations -> rankings -> figures, report);
# each sweep's runs (and `runs:`) compared under results/<data set>/sweeps/.


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"


# Each data set's files, runs, logs and timings apart: switching sets retrains nothing.
pathvars:
    resources=f"resources/{DATA_SET.name}",
    results=f"results/{DATA_SET.name}",
    logs=f"logs/{DATA_SET.name}",
    benchmarks=f"benchmarks/{DATA_SET.name}",


include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/analysis.smk"
include: "rules/figures.smk"
include: "rules/compare.smk"
include: "rules/transfer.smk"


skipped_for_imported_runs()


onsuccess:
    closing_message()


rule all:
    default_target: True
    input:
        all_outputs(),


# Only what the notebook itself made (`make notebook`; docs/speed.md, "The notebook's job").
rule notebook:
    input:
        notebook_outputs(),
