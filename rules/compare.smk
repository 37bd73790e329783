# Comparisons of the runs of each sweep (and of `runs:`), under results/<data set>/sweeps/<comparison>/.


rule compare_runs:
    input:
        metrics=of_compared_runs("<results>/{run}/metrics.json"),
        training_logs=of_compared_runs("<results>/{run}/training_log.csv"),
    output:
        table=report(
            "<results>/sweeps/{comparison}/runs.csv",
            caption="../report/compare_runs.rst",
            category="comparison: {comparison}",
            labels={"figure": "runs.csv"},
        ),
        provenance="<results>/sweeps/{comparison}/provenance/compare_runs.json",
    log:
        "<logs>/sweeps/{comparison}/compare_runs.log",
    benchmark:
        "<benchmarks>/sweeps/{comparison}/compare_runs.tsv"
    localrule: True
    conda:
        "../envs/analysis.yaml"
    resources:
        runtime=10,
    params:
        swept=swept_settings,
        code=code_of("compare_runs.py"),
    message:
        "Compare the runs of {wildcards.comparison}"
    script:
        "../scripts/compare_runs.py"


rule plot_comparison_curves:
    input:
        training_logs=of_compared_runs("<results>/{run}/training_log.csv"),
    output:
        figure=report(
            "<results>/sweeps/{comparison}/curves.png",
            caption="../report/comparison_curves.rst",
            category="comparison: {comparison}",
            labels={"figure": "validation curves"},
        ),
        provenance="<results>/sweeps/{comparison}/provenance/plot_comparison_curves.json",
    log:
        "<logs>/sweeps/{comparison}/plot_comparison_curves.log",
    benchmark:
        "<benchmarks>/sweeps/{comparison}/plot_comparison_curves.tsv"
    localrule: True
    conda:
        "../envs/analysis.yaml"
    resources:
        runtime=10,
    params:
        swept=swept_settings,
        dpi=config["comparison"]["curves"]["dpi"],
        code=code_of("plot_comparison_curves.py"),
    message:
        "Figure: the validation curves of {wildcards.comparison}"
    script:
        "../scripts/plot_comparison_curves.py"


rule plot_comparison_effects:
    input:
        table="<results>/sweeps/{comparison}/runs.csv",
    output:
        figure=report(
            "<results>/sweeps/{comparison}/effects.png",
            caption="../report/comparison_effects.rst",
            category="comparison: {comparison}",
            labels={"figure": "test accuracy by setting"},
        ),
        provenance="<results>/sweeps/{comparison}/provenance/plot_comparison_effects.json",
    log:
        "<logs>/sweeps/{comparison}/plot_comparison_effects.log",
    benchmark:
        "<benchmarks>/sweeps/{comparison}/plot_comparison_effects.tsv"
    localrule: True
    conda:
        "../envs/analysis.yaml"
    resources:
        runtime=10,
    params:
        swept=swept_settings,
        dpi=config["comparison"]["effects"]["dpi"],
        code=code_of("plot_comparison_effects.py"),
    message:
        "Figure: test accuracy against each setting of {wildcards.comparison}"
    script:
        "../scripts/plot_comparison_effects.py"


rule plot_comparison_filters:
    input:
        activations=of_compared_runs("<results>/{run}/activations.h5"),
    output:
        figure=report(
            "<results>/sweeps/{comparison}/filters.png",
            caption="../report/comparison_filters.rst",
            category="comparison: {comparison}",
            labels={"figure": "first convolution's filters"},
        ),
        provenance="<results>/sweeps/{comparison}/provenance/plot_comparison_filters.json",
    log:
        "<logs>/sweeps/{comparison}/plot_comparison_filters.log",
    benchmark:
        "<benchmarks>/sweeps/{comparison}/plot_comparison_filters.tsv"
    localrule: True
    conda:
        "../envs/analysis.yaml"
    resources:
        runtime=10,
    params:
        swept=swept_settings,
        layers=compared_first_convolutions,
        dpi=config["comparison"]["filters"]["dpi"],
        code=code_of("plot_comparison_filters.py"),
    message:
        "Figure: the first convolution's filters of each run of {wildcards.comparison}"
    script:
        "../scripts/plot_comparison_filters.py"
