rule get_mnist:
    output:
        **{key: f"resources/{{data_set}}/{name}" for key, name in FILES.items()},
        provenance="resources/{data_set}/provenance.json",
    log:
        "logs/{data_set}/get_mnist.log",
    benchmark:
        "benchmarks/{data_set}/get_mnist.tsv"
    localrule: True
    conda:
        "../envs/data.yaml"
    resources:
        # a download of 11 MB; measured peak memory well under 100 MB
        runtime=15,
    params:
        # what the files hold; where they come from (data.local_dir, the mirrors and
        # their timeouts) cannot change it, so the script reads those from the config
        content=data_content,
        code=code_of("get_mnist.py"),
    message:
        "{wildcards.data_set}: copy from its local folder, download from the mirrors or generate, then check"
    script:
        "../scripts/get_mnist.py"
