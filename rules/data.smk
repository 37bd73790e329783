rule get_mnist:
    output:
        **data_files(),
        provenance="<resources>/provenance.json",
    log:
        "<logs>/get_mnist.log",
    benchmark:
        "<benchmarks>/get_mnist.tsv"
    localrule: True
    conda:
        "../envs/data.yaml"
    resources:
        # a download of 11 MB; measured peak memory well under 100 MB
        runtime=15,
    params:
        # what the files hold; where they come from (data.local_dir, the mirrors and
        # their timeouts) cannot change it, so the script reads those from the config
        data_set=DATA_SET.name,
        content=data_content(),
        code=code_of("get_mnist.py"),
    message:
        f"{DATA_SET.title}: copy from data.local_dir or download from the mirrors, then check"
    script:
        "../scripts/get_mnist.py"
