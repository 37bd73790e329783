"""Rule `project_patches`: see mnist_filters.stages.projections."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.projections import project_patches

run_stage(
    "project_patches",
    snakemake.log[0],
    lambda: project_patches(
        snakemake.input.model,
        snakemake.input.test_images,
        snakemake.input.rankings,
        snakemake.output.projections,
        layers=snakemake.params.layers,
        methods=snakemake.params.methods,
        batch_size=snakemake.params.batch_size,
        image_shape=tuple(snakemake.params.image_shape),
        threads=snakemake.threads,
        run=snakemake.wildcards.run,
    ),
    snakemake.output.provenance,
)
