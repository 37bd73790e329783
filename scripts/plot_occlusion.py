"""Rule `plot_occlusion`: see mnist_filters.stages.figures.occlusion."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.figures.occlusion import occlusion_figures

run_stage(
    "plot_occlusion",
    snakemake.log[0],
    lambda: occlusion_figures(
        snakemake.input.occlusion,
        snakemake.input.test_images,
        snakemake.output.figures,
        classes=snakemake.params.classes,
        dpi=snakemake.params.dpi,
    ),
    snakemake.output.provenance,
)
