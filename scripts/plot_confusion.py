"""Rule `plot_confusion`: see mnist_filters.stages.figures.mistakes."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.figures.mistakes import confusion_figure

run_stage(
    "plot_confusion",
    snakemake.log[0],
    lambda: confusion_figure(
        snakemake.input.confusion, snakemake.output.figure, dpi=snakemake.params.dpi
    ),
    snakemake.output.provenance,
)
