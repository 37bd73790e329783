"""Rule `tabulate_transfer`: see mnist_filters.stages.transfer."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.transfer import tabulate_transfer

run_stage(
    "tabulate_transfer",
    snakemake.log[0],
    lambda: tabulate_transfer(
        list(snakemake.input.metrics),
        snakemake.params.networks,
        snakemake.output.table,
    ),
    snakemake.output.provenance,
)
