rule validate:
    """onnxruntime as a consumer: range, strict CRF monotonicity, parity, I/O."""
    input:
        PACKAGE,
        onnx="results/export/predictor_{codec}.onnx",
        trained="results/train/{codec}.json",
        table="results/corpus/{codec}.csv",
    output:
        "results/validate/{codec}.json",
    log:
        "logs/validate/{codec}.log",
    benchmark:
        "benchmarks/validate/{codec}.tsv"
    # Measured per Slurm job, both Snakemake processes included:
    # peak RSS 396 MB, 6 s; one CPU. Requested with headroom.
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        codec=codec_entry,
    script:
        "../scripts/validate.py"
