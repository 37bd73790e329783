"""Rule `import_model`: see mnist_filters.stages.import_model."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.import_model import import_run

run_stage(
    "import_model",
    snakemake.log[0],
    lambda: import_run(
        dict(snakemake.input),
        dict(snakemake.output),
        model=snakemake.params.model,
        training=snakemake.params.training,
        image_shape=tuple(snakemake.params.image_shape),
        num_classes=snakemake.params.num_classes,
        threads=snakemake.threads,
    ),
    snakemake.output.provenance,
)
