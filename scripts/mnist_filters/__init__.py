"""mnist-filters: train the seed notebook's CNN and show what its filters see.

The workflow's logic lives in this package, one job per module; the rule scripts
beside it only unpack Snakemake's inputs, params and outputs and call into it.
"""

__version__ = "0.1.0"
