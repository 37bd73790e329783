rule dump_activations:
    input:
        model="<results>/{run}/model.keras",
        test_images=data_files()["test_images"],
        test_labels=data_files()["test_labels"],
    output:
        activations="<results>/{run}/activations.h5",
        provenance="<results>/{run}/provenance/dump_activations.json",
    log:
        "<logs>/{run}/dump_activations.log",
    benchmark:
        "<benchmarks>/{run}/dump_activations.tsv"
    conda:
        "../envs/tensorflow.yaml"
    # One core: most of the job is TensorFlow's import, which uses one anyway, while the
    # figures that need only the data or the training log are drawn on the other.
    threads: 1
    resources:
        # measured (bench/activations.py): 15 s and 651 MB peak for 200,000 images,
        # streamed, so memory does not grow with the test set
        mem_mb=1500,
        runtime=30,
    params:
        layers=run_setting("activations", "layers"),
        batch_size=run_setting("activations", "batch_size"),
        compression=run_setting("activations", "compression"),
        chunk_bytes=run_setting("activations", "chunk_bytes"),
        image_shape=config["data"]["image_shape"],
        settings=dumped_settings,
        classes=run_setting("training", "classes"),
        num_classes=len(DATA_SET.classes),
        code=code_of("dump_activations.py"),
    message:
        "Dump the test-set activations of {params.layers} for run {wildcards.run}"
    script:
        "../scripts/dump_activations.py"


rule rank_patches:
    input:
        activations="<results>/{run}/activations.h5",
    output:
        rankings="<results>/{run}/rankings.csv",
        provenance="<results>/{run}/provenance/rank_patches.json",
    log:
        "<logs>/{run}/rank_patches.log",
    benchmark:
        "<benchmarks>/{run}/rank_patches.tsv"
    conda:
        "../envs/analysis.yaml"
    resources:
        # measured (bench/activations.py): 3.8 s and 80 MB peak for 200,000 images
        runtime=20,
    params:
        layers=run_setting("activations", "layers"),
        filters=run_setting("ranking", "filters"),
        top_k=run_setting("ranking", "top_k"),
        one_per_image=run_setting("ranking", "one_per_image"),
        code=code_of("rank_patches.py"),
    message:
        "Rank the top test-set positions of each filter for run {wildcards.run}"
    script:
        "../scripts/rank_patches.py"


rule project_patches:
    input:
        model="<results>/{run}/model.keras",
        test_images=data_files()["test_images"],
        rankings="<results>/{run}/rankings.csv",
    output:
        projections="<results>/{run}/projections.h5",
        provenance="<results>/{run}/provenance/project_patches.json",
    log:
        "<logs>/{run}/project_patches.log",
    benchmark:
        "<benchmarks>/{run}/project_patches.tsv"
    conda:
        "../envs/tensorflow.yaml"
    # One core: the job is mostly TensorFlow's import; plot_top_patches runs beside it.
    threads: 1
    resources:
        mem_mb=1500,
        runtime=20,
    params:
        layers=projected_layers,
        methods=run_setting("projections", "methods"),
        batch_size=run_setting("projections", "batch_size"),
        image_shape=config["data"]["image_shape"],
        code=code_of("project_patches.py"),
    message:
        "Project the ranked units of {params.layers} back to pixels for run {wildcards.run}"
    script:
        "../scripts/project_patches.py"


rule tally_mistakes:
    input:
        activations="<results>/{run}/activations.h5",
    output:
        confusion=report(
            "<results>/{run}/confusion.csv",
            caption="../report/confusion_table.rst",
            category="{run}",
            subcategory="mistakes",
            labels={"figure": "confusion.csv"},
        ),
        mistakes="<results>/{run}/mistakes.csv",
        provenance="<results>/{run}/provenance/tally_mistakes.json",
    log:
        "<logs>/{run}/tally_mistakes.log",
    benchmark:
        "<benchmarks>/{run}/tally_mistakes.tsv"
    localrule: True
    conda:
        "../envs/analysis.yaml"
    resources:
        runtime=10,
    params:
        classes=DATA_SET.classes,
        code=code_of("tally_mistakes.py"),
    message:
        "Tally what run {wildcards.run} gets wrong on the test set"
    script:
        "../scripts/tally_mistakes.py"


rule occlude:
    input:
        model="<results>/{run}/model.keras",
        test_images=data_files()["test_images"],
        test_labels=data_files()["test_labels"],
        mistakes="<results>/{run}/mistakes.csv",
    output:
        occlusion="<results>/{run}/occlusion.h5",
        provenance="<results>/{run}/provenance/occlude.json",
    log:
        "<logs>/{run}/occlude.log",
    benchmark:
        "<benchmarks>/{run}/occlude.tsv"
    conda:
        "../envs/tensorflow.yaml"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=20,
    params:
        images=run_setting("occlusion", "images"),
        size=run_setting("occlusion", "size"),
        stride=run_setting("occlusion", "stride"),
        fill=run_setting("occlusion", "fill"),
        layer=run_setting("occlusion", "layer"),
        batch_size=run_setting("occlusion", "batch_size"),
        classes=run_setting("training", "classes"),
        num_classes=len(DATA_SET.classes),
        code=code_of("occlude.py"),
    message:
        "Occlusion sensitivity of {params.layer} for run {wildcards.run}"
    script:
        "../scripts/occlude.py"


rule measure_invariance:
    input:
        model="<results>/{run}/model.keras",
        test_images=data_files()["test_images"],
        test_labels=data_files()["test_labels"],
    output:
        invariance=report(
            "<results>/{run}/invariance.csv",
            caption="../report/invariance_table.rst",
            category="{run}",
            subcategory="invariance",
            labels={"figure": "invariance.csv"},
        ),
        examples="<results>/{run}/invariance_examples.h5",
        provenance="<results>/{run}/provenance/measure_invariance.json",
    log:
        "<logs>/{run}/measure_invariance.log",
    benchmark:
        "<benchmarks>/{run}/measure_invariance.tsv"
    conda:
        "../envs/tensorflow.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        images=run_setting("invariance", "images"),
        seed=run_setting("invariance", "seed"),
        layers=run_setting("invariance", "layers"),
        ranges=transformations,
        batch_size=run_setting("invariance", "batch_size"),
        classes=run_setting("training", "classes"),
        num_classes=len(DATA_SET.classes),
        code=code_of("measure_invariance.py"),
    message:
        "Invariance to shifts, rotation and scale for run {wildcards.run}"
    script:
        "../scripts/measure_invariance.py"


rule trace_evolution:
    input:
        model="<results>/{run}/model.keras",
        snapshots="<results>/{run}/snapshots.h5",
        test_images=data_files()["test_images"],
        test_labels=data_files()["test_labels"],
    output:
        evolution=report(
            "<results>/{run}/evolution.csv",
            caption="../report/evolution_table.rst",
            category="{run}",
            subcategory="features through training",
            labels={"figure": "evolution.csv"},
        ),
        provenance="<results>/{run}/provenance/trace_evolution.json",
    log:
        "<logs>/{run}/trace_evolution.log",
    benchmark:
        "<benchmarks>/{run}/trace_evolution.tsv"
    conda:
        "../envs/tensorflow.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        layers=run_setting("evolution", "layers"),
        batch_size=run_setting("evolution", "batch_size"),
        classes=run_setting("training", "classes"),
        num_classes=len(DATA_SET.classes),
        code=code_of("trace_evolution.py"),
    message:
        "Each filter's strongest test patch at each kept training step of run {wildcards.run}"
    script:
        "../scripts/trace_evolution.py"


rule visualise_features:
    input:
        model="<results>/{run}/model.keras",
        test_images=data_files()["test_images"],
        test_labels=data_files()["test_labels"],
    output:
        features="<results>/{run}/features.h5",
        provenance="<results>/{run}/provenance/visualise_features.json",
    log:
        "<logs>/{run}/visualise_features.log",
    benchmark:
        "<benchmarks>/{run}/visualise_features.tsv"
    conda:
        "../envs/tensorflow.yaml"
    threads: 1
    resources:
        # measured (bench/feature_visualisation.py): 12.8 s and 685 MB peak for conv1, conv2
        # and the logits on the real subset; fc1's 1,024 images add about 30 s, little memory
        mem_mb=1500,
        runtime=30,
    params:
        settings=visualisation_settings,
        class_names=DATA_SET.classes,
        classes=run_setting("training", "classes"),
        num_classes=len(DATA_SET.classes),
        code=code_of("visualise_features.py"),
    message:
        "The input each unit of {params.settings[layers]} responds to most, for run {wildcards.run}"
    script:
        "../scripts/visualise_features.py"
