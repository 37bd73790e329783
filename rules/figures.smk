rule plot_samples:
    input:
        train_images=data_files()["train_images"],
        train_labels=data_files()["train_labels"],
    output:
        figure=report(
            "<results>/{run}/figures/samples.png",
            caption="../report/samples.rst",
            category="{run}",
            labels={"figure": "training samples"},
        ),
        provenance="<results>/{run}/provenance/plot_samples.json",
    log:
        "<logs>/{run}/plot_samples.log",
    benchmark:
        "<benchmarks>/{run}/plot_samples.tsv"
    localrule: True
    conda:
        "../envs/analysis.yaml"
    resources:
        # measured (benchmarks/seed/plot_samples.tsv): under 6 s and 125 MB peak (profiles: mem_mb 500)
        runtime=10,
    params:
        first=run_setting("training", "validation_size"),
        image_count=run_setting("figures", "samples", "count"),
        classes=DATA_SET.classes,
        run_classes=run_setting("training", "classes"),
        dpi=run_setting("figures", "samples", "dpi"),
        code=code_of("plot_samples.py"),
    message:
        "Figure: the first training images of run {wildcards.run}"
    script:
        "../scripts/plot_samples.py"


rule plot_filters:
    input:
        activations="<results>/{run}/activations.h5",
    output:
        figure=report(
            "<results>/{run}/figures/filters.png",
            caption="../report/filters.rst",
            category="{run}",
            labels={"figure": "first convolution's filters"},
        ),
        provenance="<results>/{run}/provenance/plot_filters.json",
    log:
        "<logs>/{run}/plot_filters.log",
    benchmark:
        "<benchmarks>/{run}/plot_filters.tsv"
    localrule: True
    conda:
        "../envs/analysis.yaml"
    resources:
        # measured (benchmarks/seed/plot_filters.tsv): under 6 s and 125 MB peak (profiles: mem_mb 500)
        runtime=10,
    params:
        dpi=run_setting("figures", "filters", "dpi"),
        layer=first_convolution,
        code=code_of("plot_filters.py"),
    message:
        "Figure: {params.layer}'s filters of run {wildcards.run}"
    script:
        "../scripts/plot_filters.py"


rule plot_top_patches:
    input:
        rankings="<results>/{run}/rankings.csv",
        test_images=data_files()["test_images"],
    output:
        figures=report(
            directory("<results>/{run}/figures/top_patches"),
            patterns=["{name}.png"],
            caption="../report/top_patches.rst",
            category="{run}",
            labels={"figure": "top patches: {name}"},
        ),
        provenance="<results>/{run}/provenance/plot_top_patches.json",
    log:
        "<logs>/{run}/plot_top_patches.log",
    benchmark:
        "<benchmarks>/{run}/plot_top_patches.tsv"
    localrule: True
    conda:
        "../envs/analysis.yaml"
    # One core, beside project_patches (the figures are the same for any count).
    threads: 1
    resources:
        # measured (benchmarks/seed/plot_top_patches.tsv): under 6 s and 125 MB peak (profiles: mem_mb 500)
        runtime=10,
    params:
        classes=DATA_SET.classes,
        dpi=run_setting("figures", "top_patches", "dpi"),
        code=code_of("plot_top_patches.py"),
    message:
        "Figures: each ranked filter's top test-set patches for run {wildcards.run}"
    script:
        "../scripts/plot_top_patches.py"


rule plot_training_curve:
    input:
        training_log="<results>/{run}/training_log.csv",
        metrics="<results>/{run}/metrics.json",
    output:
        figure=report(
            "<results>/{run}/figures/training_curve.png",
            caption="../report/training_curve.rst",
            category="{run}",
            labels={"figure": "training curve"},
        ),
        provenance="<results>/{run}/provenance/plot_training_curve.json",
    log:
        "<logs>/{run}/plot_training_curve.log",
    benchmark:
        "<benchmarks>/{run}/plot_training_curve.tsv"
    localrule: True
    conda:
        "../envs/analysis.yaml"
    resources:
        # measured (benchmarks/seed/plot_training_curve.tsv): under 6 s and 125 MB peak (profiles: mem_mb 500)
        runtime=10,
    params:
        dpi=run_setting("figures", "training_curve", "dpi"),
        code=code_of("plot_training_curve.py"),
    message:
        "Figure: the training curve of run {wildcards.run}"
    script:
        "../scripts/plot_training_curve.py"


rule plot_projections:
    input:
        rankings="<results>/{run}/rankings.csv",
        test_images=data_files()["test_images"],
        projections="<results>/{run}/projections.h5",
    output:
        figures=report(
            directory("<results>/{run}/figures/projections"),
            patterns=["{name}.png"],
            caption="../report/projections.rst",
            category="{run}",
            labels={"figure": "projections: {name}"},
        ),
        provenance="<results>/{run}/provenance/plot_projections.json",
    log:
        "<logs>/{run}/plot_projections.log",
    benchmark:
        "<benchmarks>/{run}/plot_projections.tsv"
    localrule: True
    conda:
        "../envs/analysis.yaml"
    # The per-filter figures are drawn in parallel (the same figures for any count).
    threads: 2
    resources:
        runtime=10,
    params:
        classes=DATA_SET.classes,
        dpi=run_setting("figures", "projections", "dpi"),
        code=code_of("plot_projections.py"),
    message:
        "Figures: what in each top patch excites its filter, for run {wildcards.run}"
    script:
        "../scripts/plot_projections.py"


rule gallery:
    input:
        unpack(gallery_sections),
        rankings="<results>/{run}/rankings.csv",
        test_images=data_files()["test_images"],
        projections="<results>/{run}/projections.h5",
        mistakes="<results>/{run}/mistakes.csv",
    output:
        gallery=report(
            directory("<results>/{run}/gallery"),
            htmlindex="index.html",
            caption="../report/gallery.rst",
            category="{run}",
            labels={"figure": "gallery"},
        ),
        provenance="<results>/{run}/provenance/gallery.json",
    log:
        "<logs>/{run}/gallery.log",
    benchmark:
        "<benchmarks>/{run}/gallery.tsv"
    localrule: True
    conda:
        "../envs/analysis.yaml"
    resources:
        runtime=10,
    params:
        classes=DATA_SET.classes,
        sections=gallery_section_kinds,
        code=code_of("make_gallery.py"),
        page=file_content("mnist_filters/stages/gallery.html"),
    message:
        "Gallery: every projected filter's top hits, browsable, for run {wildcards.run}"
    script:
        "../scripts/make_gallery.py"


rule plot_confusion:
    input:
        confusion="<results>/{run}/confusion.csv",
    output:
        figure=report(
            "<results>/{run}/figures/confusion.png",
            caption="../report/confusion.rst",
            category="{run}",
            subcategory="mistakes",
            labels={"figure": "confusion matrix"},
        ),
        provenance="<results>/{run}/provenance/plot_confusion.json",
    log:
        "<logs>/{run}/plot_confusion.log",
    benchmark:
        "<benchmarks>/{run}/plot_confusion.tsv"
    localrule: True
    conda:
        "../envs/analysis.yaml"
    resources:
        runtime=10,
    params:
        dpi=run_setting("figures", "confusion", "dpi"),
        code=code_of("plot_confusion.py"),
    message:
        "Figure: the confusion matrix of run {wildcards.run}"
    script:
        "../scripts/plot_confusion.py"


rule plot_mistakes:
    input:
        mistakes="<results>/{run}/mistakes.csv",
        test_images=data_files()["test_images"],
    output:
        figure=report(
            "<results>/{run}/figures/mistakes.png",
            caption="../report/mistakes.rst",
            category="{run}",
            subcategory="mistakes",
            labels={"figure": "most confident mistakes"},
        ),
        provenance="<results>/{run}/provenance/plot_mistakes.json",
    log:
        "<logs>/{run}/plot_mistakes.log",
    benchmark:
        "<benchmarks>/{run}/plot_mistakes.tsv"
    localrule: True
    conda:
        "../envs/analysis.yaml"
    resources:
        runtime=10,
    params:
        image_count=run_setting("figures", "mistakes", "count"),
        dpi=run_setting("figures", "mistakes", "dpi"),
        code=code_of("plot_mistakes.py"),
    message:
        "Figure: the most confident mistakes of run {wildcards.run}"
    script:
        "../scripts/plot_mistakes.py"


rule plot_occlusion:
    input:
        occlusion="<results>/{run}/occlusion.h5",
        test_images=data_files()["test_images"],
    output:
        figures=report(
            directory("<results>/{run}/figures/occlusion"),
            patterns=["{name}.png"],
            caption="../report/occlusion.rst",
            category="{run}",
            subcategory="occlusion",
            labels={"figure": "occlusion {name}"},
        ),
        provenance="<results>/{run}/provenance/plot_occlusion.json",
    log:
        "<logs>/{run}/plot_occlusion.log",
    benchmark:
        "<benchmarks>/{run}/plot_occlusion.tsv"
    localrule: True
    conda:
        "../envs/analysis.yaml"
    resources:
        runtime=10,
    params:
        classes=DATA_SET.classes,
        dpi=run_setting("figures", "occlusion", "dpi"),
        code=code_of("plot_occlusion.py"),
    message:
        "Figures: occlusion sensitivity of run {wildcards.run}"
    script:
        "../scripts/plot_occlusion.py"


rule plot_invariance:
    input:
        invariance="<results>/{run}/invariance.csv",
        examples="<results>/{run}/invariance_examples.h5",
    output:
        figures=report(
            directory("<results>/{run}/figures/invariance"),
            patterns=["{name}.png"],
            caption="../report/invariance.rst",
            category="{run}",
            subcategory="invariance",
            labels={"figure": "invariance {name}"},
        ),
        provenance="<results>/{run}/provenance/plot_invariance.json",
    log:
        "<logs>/{run}/plot_invariance.log",
    benchmark:
        "<benchmarks>/{run}/plot_invariance.tsv"
    localrule: True
    conda:
        "../envs/analysis.yaml"
    resources:
        runtime=10,
    params:
        dpi=run_setting("figures", "invariance", "dpi"),
        code=code_of("plot_invariance.py"),
    message:
        "Figures: invariance of run {wildcards.run}"
    script:
        "../scripts/plot_invariance.py"


rule plot_feature_visualisation:
    input:
        features="<results>/{run}/features.h5",
    output:
        figures=report(
            directory("<results>/{run}/figures/features"),
            patterns=["{layer}.png"],
            caption="../report/feature_visualisation.rst",
            category="{run}",
            subcategory="feature visualisation",
            labels={"figure": "optimised inputs {layer}"},
        ),
        provenance="<results>/{run}/provenance/plot_feature_visualisation.json",
    log:
        "<logs>/{run}/plot_feature_visualisation.log",
    benchmark:
        "<benchmarks>/{run}/plot_feature_visualisation.tsv"
    localrule: True
    conda:
        "../envs/analysis.yaml"
    resources:
        runtime=10,
    params:
        dpi=run_setting("figures", "feature_visualisation", "dpi"),
        code=code_of("plot_feature_visualisation.py"),
    message:
        "Figures: the optimised inputs of run {wildcards.run}"
    script:
        "../scripts/plot_feature_visualisation.py"


rule plot_evolution:
    input:
        evolution="<results>/{run}/evolution.csv",
        snapshots="<results>/{run}/snapshots.h5",
        test_images=data_files()["test_images"],
    output:
        figures=report(
            directory("<results>/{run}/figures/evolution"),
            patterns=["{name}.png"],
            caption="../report/evolution.rst",
            category="{run}",
            subcategory="features through training",
            labels={"figure": "{name}"},
        ),
        provenance="<results>/{run}/provenance/plot_evolution.json",
    log:
        "<logs>/{run}/plot_evolution.log",
    benchmark:
        "<benchmarks>/{run}/plot_evolution.tsv"
    localrule: True
    conda:
        "../envs/analysis.yaml"
    resources:
        runtime=10,
    params:
        dpi=run_setting("figures", "evolution", "dpi"),
        first=first_convolution,
        code=code_of("plot_evolution.py"),
    message:
        "Figures: features through training of run {wildcards.run}"
    script:
        "../scripts/plot_evolution.py"
