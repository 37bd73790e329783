# The transfer experiment (config `transfer:`, mnist_filters/transfer_plan.py): its networks are
# trained by the `train` rule, one job each; these rules tabulate and draw them, under
# results/<data set>/transfer/.


rule tabulate_transfer:
    input:
        metrics=transfer_metrics(TREATMENT_KINDS),
    output:
        table=report(
            "<results>/transfer/transfer.csv",
            caption="../report/transfer_table.rst",
            category="transfer",
            labels={"figure": "transfer.csv"},
        ),
        provenance="<results>/transfer/provenance/tabulate_transfer.json",
    log:
        "<logs>/transfer/tabulate_transfer.log",
    benchmark:
        "<benchmarks>/transfer/tabulate_transfer.tsv"
    localrule: True
    conda:
        "../envs/analysis.yaml"
    resources:
        runtime=10,
    params:
        networks=transfer_networks(TREATMENT_KINDS),
        code=code_of("tabulate_transfer.py"),
    message:
        "Tabulate the transfer experiment's base networks and treatments"
    script:
        "../scripts/tabulate_transfer.py"


rule tabulate_few_shot:
    input:
        metrics=transfer_metrics(FEW_SHOT_KINDS),
    output:
        table=report(
            "<results>/transfer/few_shot.csv",
            caption="../report/few_shot_table.rst",
            category="transfer",
            labels={"figure": "few_shot.csv"},
        ),
        provenance="<results>/transfer/provenance/tabulate_few_shot.json",
    log:
        "<logs>/transfer/tabulate_few_shot.log",
    benchmark:
        "<benchmarks>/transfer/tabulate_few_shot.tsv"
    localrule: True
    conda:
        "../envs/analysis.yaml"
    resources:
        runtime=10,
    params:
        networks=transfer_networks(FEW_SHOT_KINDS),
        code=code_of("tabulate_few_shot.py"),
    message:
        "Tabulate the few-shot networks over A's features and from scratch"
    script:
        "../scripts/tabulate_few_shot.py"


rule plot_transfer:
    input:
        table=rules.tabulate_transfer.output.table,
    output:
        figure=report(
            "<results>/transfer/transfer.png",
            caption="../report/transfer.rst",
            category="transfer",
            labels={"figure": "transfer by layers copied"},
        ),
        provenance="<results>/transfer/provenance/plot_transfer.json",
    log:
        "<logs>/transfer/plot_transfer.log",
    benchmark:
        "<benchmarks>/transfer/plot_transfer.tsv"
    localrule: True
    conda:
        "../envs/analysis.yaml"
    resources:
        runtime=10,
    params:
        dpi=config["transfer"]["figure"]["dpi"],
        layers=TRANSFERABLE,
        code=code_of("plot_transfer.py"),
    message:
        "Draw accuracy on B against the layers copied (Yosinski et al. 2014, Fig. 2)"
    script:
        "../scripts/plot_transfer.py"


rule plot_few_shot:
    input:
        table=rules.tabulate_few_shot.output.table,
    output:
        figure=report(
            "<results>/transfer/few_shot.png",
            caption="../report/few_shot.rst",
            category="transfer",
            labels={"figure": "few-shot transfer"},
        ),
        provenance="<results>/transfer/provenance/plot_few_shot.json",
    log:
        "<logs>/transfer/plot_few_shot.log",
    benchmark:
        "<benchmarks>/transfer/plot_few_shot.tsv"
    localrule: True
    conda:
        "../envs/analysis.yaml"
    resources:
        runtime=10,
    params:
        dpi=config["transfer"]["figure"]["dpi"],
        code=code_of("plot_few_shot.py"),
    message:
        "Draw accuracy on B against examples per class, over A's features and from scratch"
    script:
        "../scripts/plot_few_shot.py"
