"""Rule `visualise_features`: see mnist_filters.stages.feature_visualisation."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.feature_visualisation import visualise_features

run_stage(
    "visualise_features",
    snakemake.log[0],
    lambda: visualise_features(
        snakemake.input.model,
        snakemake.input.test_images,
        snakemake.output.features,
        settings=snakemake.params.settings,
        test_labels=snakemake.input.test_labels,
        class_names=snakemake.params.class_names,
        classes=snakemake.params.classes,
        num_classes=snakemake.params.num_classes,
        threads=snakemake.threads,
    ),
    snakemake.output.provenance,
)
