"""Rule `plot_mistakes`: see mnist_filters.stages.figures.mistakes."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.figures.mistakes import mistakes_figure

run_stage(
    "plot_mistakes",
    snakemake.log[0],
    lambda: mistakes_figure(
        snakemake.input.mistakes,
        snakemake.input.test_images,
        snakemake.output.figure,
        count=snakemake.params.image_count,
        dpi=snakemake.params.dpi,
    ),
    snakemake.output.provenance,
)
