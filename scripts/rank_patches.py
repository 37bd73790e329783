"""Rule `rank_patches`: see mnist_filters.stages.rank."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.rank import rank_patches

run_stage(
    "rank_patches",
    snakemake.log[0],
    lambda: rank_patches(
        snakemake.input.activations,
        snakemake.output.rankings,
        layers=snakemake.params.layers,
        filters=snakemake.params.filters,
        top_k=snakemake.params.top_k,
        one_per_image=snakemake.params.one_per_image,
    ),
    snakemake.output.provenance,
)
