"""Rule `get_mnist`: see mnist_filters.stages.data.

Where the files come from cannot change what they hold (`params.content` pins that), so
the source settings are read from the config: changing them reruns nothing.
"""

from mnist_filters.dataset import DATA_SETS, FILES
from mnist_filters.runlog import run_stage
from mnist_filters.stages.data import get_mnist
from mnist_filters.transfer_plan import data_source

source, local_dir_key = data_source(snakemake.config, snakemake.wildcards.data_set)
own = None
if source["format"] != "idx":
    own = (source["format"], source["path"], snakemake.params.content["sha256"])
data_set = DATA_SETS.get(snakemake.wildcards.data_set) if own is None else None
run_stage(
    "get_mnist",
    snakemake.log[0],
    lambda: get_mnist(
        {key: snakemake.output[key] for key in FILES},
        data_set=data_set,
        content_md5=None if own else snakemake.params.content,
        own=own,
        local_dir=source["local_dir"] or None,
        local_dir_key=local_dir_key,
        mirrors=[] if own else source["mirrors"].get(data_set.name) or list(data_set.mirrors),
        timeout=source["timeout_seconds"],
        retries=source["retries"],
        retry_wait=source["retry_wait_seconds"],
        image_shape=tuple(source["image_shape"]),
    ),
    snakemake.output.provenance,
)
