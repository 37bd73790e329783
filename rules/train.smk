rule train:
    input:
        unpack(transfer_source),
        unpack(training_data),
    output:
        model="<results>/{run}/model.keras",
        metrics=report(
            "<results>/{run}/metrics.json",
            caption="../report/metrics.rst",
            category=report_category,
            subcategory=report_subcategory,
            labels={"figure": "metrics"},
        ),
        training_log="<results>/{run}/training_log.csv",
        # TensorBoard event files of the training log (make tensorboard shows every run's)
        tensorboard=directory("<results>/{run}/tensorboard"),
        # conv1's and conv2's weights at evolution.steps (features through training)
        snapshots="<results>/{run}/snapshots.h5",
        provenance="<results>/{run}/provenance/train.json",
    log:
        "<logs>/{run}/train.log",
    benchmark:
        "<benchmarks>/{run}/train.tsv"
    wildcard_constraints:
        run=runs_pattern(TRAINED),
    conda:
        "../envs/tensorflow.yaml"
    threads: 2
    resources:
        # measured (benchmarks/seed/train.tsv, 2 cores, 2000 steps of 50): 24 s, 1.07 GB peak
        mem_mb=2000,
        runtime=train_runtime,
        gpu=run_setting("training", "gpus"),
    params:
        seed=run_setting("seed"),
        model=run_setting("model"),
        training=run_setting("training"),
        transfer=copied_layers,
        snapshot_steps=training_snapshots,
        image_shape=config["data"]["image_shape"],
        num_classes=class_count,
        code=code_of("train.py"),
    message:
        "Train run {wildcards.run}"
    script:
        "../scripts/train.py"


# A model trained elsewhere (model.file) in training's place: see stages/import_model.py.
rule import_model:
    input:
        test_images=data_files()["test_images"],
        test_labels=data_files()["test_labels"],
    output:
        model="<results>/{run}/model.keras",
        metrics=report(
            "<results>/{run}/metrics.json",
            caption="../report/metrics.rst",
            category=report_category,
            subcategory=report_subcategory,
            labels={"figure": "metrics"},
        ),
        provenance="<results>/{run}/provenance/import_model.json",
    log:
        "<logs>/{run}/import_model.log",
    benchmark:
        "<benchmarks>/{run}/import_model.tsv"
    wildcard_constraints:
        run=runs_pattern(IMPORTED),
    conda:
        "../envs/tensorflow.yaml"
    threads: 2
    resources:
        # a model of a few MB and the test set: about as much as the dump
        mem_mb=2000,
        runtime=15,
    params:
        # model.file's sha256 is among the model settings: an edited file reruns the run
        model=run_setting("model"),
        training=run_setting("training"),
        image_shape=config["data"]["image_shape"],
        num_classes=len(DATA_SET.classes),
        code=code_of("import_model.py"),
    message:
        "Read run {wildcards.run}'s model from its file"
    script:
        "../scripts/import_model.py"
