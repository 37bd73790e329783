"""Rule `plot_comparison_curves`: see mnist_filters.stages.figures.comparison."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.figures.comparison import curves

run_stage(
    "plot_comparison_curves",
    snakemake.log[0],
    lambda: curves(
        list(snakemake.input.training_logs),
        snakemake.output.figure,
        swept=snakemake.params.swept,
        dpi=snakemake.params.dpi,
    ),
    snakemake.output.provenance,
)
