"""Rule `occlude`: see mnist_filters.stages.occlusion."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.occlusion import occlude

run_stage(
    "occlude",
    snakemake.log[0],
    lambda: occlude(
        snakemake.input.model,
        snakemake.input.test_images,
        snakemake.input.test_labels,
        snakemake.input.mistakes,
        snakemake.output.occlusion,
        images=snakemake.params.images,
        size=snakemake.params.size,
        stride=snakemake.params.stride,
        fill=snakemake.params.fill,
        layer=snakemake.params.layer,
        batch_size=snakemake.params.batch_size,
        classes=snakemake.params.classes,
        num_classes=snakemake.params.num_classes,
        threads=snakemake.threads,
    ),
    snakemake.output.provenance,
)
