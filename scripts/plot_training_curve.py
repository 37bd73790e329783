"""Rule `plot_training_curve`: see mnist_filters.stages.figures.training_curve."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.figures.training_curve import training_curve

run_stage(
    "plot_training_curve",
    snakemake.log[0],
    lambda: training_curve(
        snakemake.input.training_log,
        snakemake.input.metrics,
        snakemake.output.figure,
        dpi=snakemake.params.dpi,
    ),
    snakemake.output.provenance,
)
