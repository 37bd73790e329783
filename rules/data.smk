rule get_mnist:
    input:
        unpack(local_mnist_inputs),
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
        files=list(FILES),
        local_dir=config["mnist"]["local_dir"],
        mirrors=config["mnist"]["mirrors"],
        timeout=config["mnist"]["timeout_seconds"],
        retries=config["mnist"]["retries"],
        retry_wait=config["mnist"]["retry_wait_seconds"],
        image_shape=config["mnist"]["image_shape"],
    message:
        "MNIST: copy from mnist.local_dir or download from the mirrors, then check"
    script:
        "../scripts/get_mnist.py"
