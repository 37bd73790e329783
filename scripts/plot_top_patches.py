"""Rule `plot_top_patches`: see mnist_filters.stages.figures.top_patches."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.figures.top_patches import top_patches

run_stage(
    "plot_top_patches",
    snakemake.log[0],
    lambda: top_patches(
        snakemake.input.rankings,
        snakemake.input.test_images,
        snakemake.output.figures,
        classes=snakemake.params.classes,
        dpi=snakemake.params.dpi,
        workers=snakemake.threads,
    ),
    snakemake.output.provenance,
)
