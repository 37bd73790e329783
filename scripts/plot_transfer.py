"""Rule `plot_transfer`: see mnist_filters.stages.figures.transfer."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.figures.transfer import transfer_figure

run_stage(
    "plot_transfer",
    snakemake.log[0],
    lambda: transfer_figure(
        snakemake.input.table,
        snakemake.output.figure,
        dpi=snakemake.params.dpi,
        layers=snakemake.params.layers,
    ),
    snakemake.output.provenance,
)
