rule export:
    """The ONNX graph, checked against the trained model in onnxruntime."""
    input:
        PACKAGE,
        trained="results/train/{codec}.json",
    output:
        "results/export/predictor_{codec}.onnx",
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
