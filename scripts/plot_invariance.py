"""Rule `plot_invariance`: see mnist_filters.stages.figures.invariance."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.figures.invariance import invariance_figures

run_stage(
    "plot_invariance",
    snakemake.log[0],
    lambda: invariance_figures(
        snakemake.input.invariance,
        snakemake.input.examples,
        snakemake.output.figures,
        dpi=snakemake.params.dpi,
    ),
    snakemake.output.provenance,
)
