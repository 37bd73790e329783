"""One module per workflow stage: each takes plain paths and settings, never Snakemake objects."""
