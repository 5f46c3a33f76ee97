rule export:
    """The ONNX graph of the trained network, built node by node."""
    input:
        unpack(after_split(trained=rules.train.output.trained)),
        code=code("export"),
    output:
        onnx=model_path("results/export"),
    log:
        "logs/export/{codec}.log",
    benchmark:
        "benchmarks/export/{codec}.tsv"
    # Measured per Slurm job, both Snakemake processes included:
    # peak RSS 395 MB, 6 s; one CPU. Requested with headroom.
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        opset=config["opset"],
    script:
        "../scripts/export.py"
