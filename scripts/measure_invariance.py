"""Rule `measure_invariance`: see mnist_filters.stages.invariance."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.invariance import measure_invariance

run_stage(
    "measure_invariance",
    snakemake.log[0],
    lambda: measure_invariance(
        snakemake.input.model,
        snakemake.input.test_images,
        snakemake.input.test_labels,
        snakemake.output.invariance,
        snakemake.output.examples,
        images=snakemake.params.images,
        seed=snakemake.params.seed,
        ranges=snakemake.params.ranges,
        layers=snakemake.params.layers,
        batch_size=snakemake.params.batch_size,
        classes=snakemake.params.classes,
        num_classes=snakemake.params.num_classes,
        threads=snakemake.threads,
    ),
    snakemake.output.provenance,
)
