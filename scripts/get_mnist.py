"""Rule `get_mnist`: see mnist_filters.stages.data.

Where the files come from cannot change what they hold (`params.content` pins that), so
the source settings are read from the config: changing them reruns nothing.
"""

from mnist_filters.dataset import DATA_SETS, FILES
from mnist_filters.runlog import run_stage
from mnist_filters.stages.data import get_mnist
from mnist_filters.transfer_plan import data_source

data_set = DATA_SETS[snakemake.wildcards.data_set]
source, local_dir_key = data_source(snakemake.config, data_set.name)
run_stage(
    "get_mnist",
    snakemake.log[0],
    lambda: get_mnist(
        {key: snakemake.output[key] for key in FILES},
        data_set=data_set,
        content_md5=snakemake.params.content,
        local_dir=source["local_dir"] or None,
        local_dir_key=local_dir_key,
        mirrors=source["mirrors"].get(data_set.name) or list(data_set.mirrors),
        timeout=source["timeout_seconds"],
        retries=source["retries"],
        retry_wait=source["retry_wait_seconds"],
        image_shape=tuple(source["image_shape"]),
    ),
    snakemake.output.provenance,
)
