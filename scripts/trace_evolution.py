"""Rule `trace_evolution`: see mnist_filters.stages.evolution."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.evolution import trace_evolution

run_stage(
    "trace_evolution",
    snakemake.log[0],
    lambda: trace_evolution(
        snakemake.input.model,
        snakemake.input.snapshots,
        snakemake.input.test_images,
        snakemake.input.test_labels,
        snakemake.output.evolution,
        layers=snakemake.params.layers,
        batch_size=snakemake.params.batch_size,
        classes=snakemake.params.classes,
        num_classes=snakemake.params.num_classes,
        threads=snakemake.threads,
    ),
    snakemake.output.provenance,
)
