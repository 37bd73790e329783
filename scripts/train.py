"""Rule `train`: see mnist_filters.stages.train.

Checkpointing cannot change the weights, so its settings are read from the config:
changing them reruns nothing.
"""

from pathlib import Path

from mnist_filters.runlog import run_stage
from mnist_filters.stages.train import train_run

checkpoints = snakemake.config["checkpoints"]
run_stage(
    "train",
    snakemake.log[0],
    lambda: train_run(
        dict(snakemake.input),
        dict(snakemake.output),
        run=snakemake.wildcards.run,
        seed=snakemake.params.seed,
        model_settings=snakemake.params.model,
        training=snakemake.params.training,
        checkpoint_dir=str(
            Path(checkpoints["dir"]) / snakemake.config["data"]["set"] / snakemake.wildcards.run
        ),
        checkpoint_every=checkpoints["every"],
        keep_checkpoints=checkpoints["keep"],
        snapshot_steps=snakemake.params.snapshot_steps,
        image_shape=tuple(snakemake.params.image_shape),
        num_classes=snakemake.params.num_classes,
        threads=snakemake.threads,
        transfer=snakemake.params.transfer,
    ),
    snakemake.output.provenance,
    # the setting, not the `gpu` resource: a user's `use rule ... with: resources:` may drop it
    gpus_wanted=snakemake.params.training["gpus"] > 0,
)
