"""Rule `plot_filters`: see mnist_filters.stages.figures.filters."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.figures.filters import filters

run_stage(
    "plot_filters",
    snakemake.log[0],
    lambda: filters(
        snakemake.input.activations,
        snakemake.output.figure,
        dpi=snakemake.params.dpi,
        layer=snakemake.params.layer,
    ),
    snakemake.output.provenance,
)
