rule get_mnist:
    output:
        **mnist_files(),
        provenance=f"{MNIST_DIR}/provenance.json",
    log:
        "logs/get_mnist.log",
    benchmark:
        "benchmarks/get_mnist.tsv"
    localrule: True
    conda:
        "../envs/data.yaml"
    resources:
        # a download of 11 MB; measured peak memory well under 100 MB
        mem_mb=500,
        runtime=15,
    params:
        # what the files hold; where they come from (mnist.local_dir, the mirrors and
        # their timeouts) cannot change it, so the script reads those from the config
        content=mnist_content(),
        code=code_of("get_mnist.py"),
    message:
        "MNIST: copy from mnist.local_dir or download from the mirrors, then check"
    script:
        "../scripts/get_mnist.py"
