"""Rule `plot_comparison_effects`: see mnist_filters.stages.figures.comparison."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.figures.comparison import effects

run_stage(
    "plot_comparison_effects",
    snakemake.log[0],
    lambda: effects(
        snakemake.input.table,
        snakemake.output.figure,
        swept=snakemake.params.swept,
        dpi=snakemake.params.dpi,
    ),
    snakemake.output.provenance,
)
