"""Rule `train`: see mnist_filters.stages.train."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.train import train_run

run_stage(
    "train",
    snakemake.log[0],
    lambda: train_run(
        dict(snakemake.input),
        dict(snakemake.output),
        seed=snakemake.params.seed,
        model_settings=snakemake.params.model,
        training=snakemake.params.training,
        checkpoint_dir=snakemake.params.checkpoint_dir,
        image_shape=tuple(snakemake.params.image_shape),
        threads=snakemake.threads,
    ),
    snakemake.output.provenance,
)
