"""Rule `compare_runs`: see mnist_filters.stages.compare."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.compare import compare_runs

run_stage(
    "compare_runs",
    snakemake.log[0],
    lambda: compare_runs(
        list(snakemake.input.metrics),
        list(snakemake.input.training_logs),
        snakemake.output.table,
        swept=snakemake.params.swept,
    ),
    snakemake.output.provenance,
)
