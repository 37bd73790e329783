"""Rule `plot_comparison_filters`: see mnist_filters.stages.figures.comparison."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.figures.comparison import filters

run_stage(
    "plot_comparison_filters",
    snakemake.log[0],
    lambda: filters(
        list(snakemake.input.activations),
        snakemake.output.figure,
        swept=snakemake.params.swept,
        layers=snakemake.params.layers,
        dpi=snakemake.params.dpi,
    ),
    snakemake.output.provenance,
)
