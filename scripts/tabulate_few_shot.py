"""Rule `tabulate_few_shot`: see mnist_filters.stages.transfer."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.transfer import tabulate_few_shot

run_stage(
    "tabulate_few_shot",
    snakemake.log[0],
    lambda: tabulate_few_shot(
        list(snakemake.input.metrics),
        snakemake.params.networks,
        snakemake.output.table,
    ),
    snakemake.output.provenance,
)
