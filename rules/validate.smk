rule validate:
    """onnxruntime as a consumer: range, strict CRF monotonicity, parity, I/O."""
    input:
        unpack(
            after_split(
                onnx=rules.export.output.onnx,
                trained=rules.train.output.trained,
                table=rules.corpus.output.table,
            )
        ),
        code=code("validate"),
    output:
        report="results/validate/{codec}.json",
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
