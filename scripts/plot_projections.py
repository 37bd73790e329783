"""Rule `plot_projections`: see mnist_filters.stages.figures.projections."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.figures.projections import projection_figures

run_stage(
    "plot_projections",
    snakemake.log[0],
    lambda: projection_figures(
        snakemake.input.rankings,
        snakemake.input.test_images,
        snakemake.input.projections,
        snakemake.output.figures,
        classes=snakemake.params.classes,
        dpi=snakemake.params.dpi,
        workers=snakemake.threads,
    ),
    snakemake.output.provenance,
)
