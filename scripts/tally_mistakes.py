"""Rule `tally_mistakes`: see mnist_filters.stages.mistakes."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.mistakes import tally_mistakes

run_stage(
    "tally_mistakes",
    snakemake.log[0],
    lambda: tally_mistakes(
        snakemake.input.activations,
        snakemake.output.confusion,
        snakemake.output.mistakes,
        classes=snakemake.params.classes,
    ),
    snakemake.output.provenance,
)
