"""Rule `plot_few_shot`: see mnist_filters.stages.figures.transfer."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.figures.transfer import few_shot_figure

run_stage(
    "plot_few_shot",
    snakemake.log[0],
    lambda: few_shot_figure(
        snakemake.input.table, snakemake.output.figure, dpi=snakemake.params.dpi
    ),
    snakemake.output.provenance,
)
