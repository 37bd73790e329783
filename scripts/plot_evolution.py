"""Rule `plot_evolution`: see mnist_filters.stages.figures.evolution."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.figures.evolution import evolution_figures

run_stage(
    "plot_evolution",
    snakemake.log[0],
    lambda: evolution_figures(
        snakemake.input.evolution,
        snakemake.input.snapshots,
        snakemake.input.test_images,
        snakemake.output.figures,
        dpi=snakemake.params.dpi,
        first=snakemake.params.first,
    ),
    snakemake.output.provenance,
)
