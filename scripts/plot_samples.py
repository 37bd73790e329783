"""Rule `plot_samples`: see mnist_filters.stages.figures.samples."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.figures.samples import samples

run_stage(
    "plot_samples",
    snakemake.log[0],
    lambda: samples(
        snakemake.input.train_images,
        snakemake.input.train_labels,
        snakemake.output.figure,
        first=snakemake.params.first,
        count=snakemake.params.image_count,
        classes=snakemake.params.classes,
        dpi=snakemake.params.dpi,
        run_classes=snakemake.params.run_classes,
    ),
    snakemake.output.provenance,
)
