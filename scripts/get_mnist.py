"""Rule `get_mnist`: see mnist_filters.stages.data."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.data import get_mnist

run_stage(
    "get_mnist",
    snakemake.log[0],
    lambda: get_mnist(
        {key: snakemake.output[key] for key in snakemake.params.files},
        local_dir=snakemake.params.local_dir or None,
        mirrors=snakemake.params.mirrors,
        timeout=snakemake.params.timeout,
        retries=snakemake.params.retries,
        retry_wait=snakemake.params.retry_wait,
        image_shape=tuple(snakemake.params.image_shape),
    ),
    snakemake.output.provenance,
)
