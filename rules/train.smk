rule train:
    input:
        **mnist_files(),
    output:
        model="results/{run}/model.keras",
        metrics=report(
            "results/{run}/metrics.json",
            caption="../report/metrics.rst",
            category="{run}",
            labels={"figure": "metrics"},
        ),
        training_log="results/{run}/training_log.csv",
    log:
        "logs/{run}/train.log",
    benchmark:
        "benchmarks/{run}/train.tsv"
    conda:
        "../envs/tensorflow.yaml"
    threads: 2
    params:
        seed=run_setting("seed"),
        model=run_setting("model"),
        training=run_setting("training"),
        image_shape=config["mnist"]["image_shape"],
    message:
        "Train run {wildcards.run}"
    script:
        "../scripts/train.py"
