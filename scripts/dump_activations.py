"""Rule `dump_activations`: see mnist_filters.stages.activations."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.activations import dump_activations

run_stage(
    "dump_activations",
    snakemake.log[0],
    lambda: dump_activations(
        snakemake.input.model,
        snakemake.input.test_images,
        snakemake.input.test_labels,
        snakemake.output.activations,
        layers=snakemake.params.layers,
        batch_size=snakemake.params.batch_size,
        compression=snakemake.params.compression,
        chunk_bytes=snakemake.params.chunk_bytes,
        image_shape=tuple(snakemake.params.image_shape),
        settings=snakemake.params.settings,
        classes=snakemake.params.classes,
        num_classes=snakemake.params.num_classes,
        threads=snakemake.threads,
        run=snakemake.wildcards.run,
    ),
    snakemake.output.provenance,
)
