"""Rule `plot_feature_visualisation`: see mnist_filters.stages.figures.feature_visualisation."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.figures.feature_visualisation import feature_figures

run_stage(
    "plot_feature_visualisation",
    snakemake.log[0],
    lambda: feature_figures(
        snakemake.input.features,
        snakemake.output.figures,
        dpi=snakemake.params.dpi,
    ),
    snakemake.output.provenance,
)
