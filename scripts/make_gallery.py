"""Rule `gallery`: see mnist_filters.stages.gallery."""

from mnist_filters.runlog import run_stage
from mnist_filters.stages.gallery import gallery

run_stage(
    "gallery",
    snakemake.log[0],
    lambda: gallery(
        snakemake.input.rankings,
        snakemake.input.test_images,
        snakemake.input.projections,
        snakemake.output.gallery,
        run=snakemake.wildcards.run,
        classes=snakemake.params.classes,
        mistakes=snakemake.input.mistakes,
        sections={
            name: {**shown, "path": snakemake.input[name]}
            for name, shown in snakemake.params.sections.items()
        },
    ),
    snakemake.output.provenance,
)
