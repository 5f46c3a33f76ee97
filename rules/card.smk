rule card:
    """The model card: what, output, usage, provenance, limitations."""
    input:
        PACKAGE,
        trained="results/train/{codec}.json",
        corpus_info="results/corpus/{codec}.json",
        allowlist="results/allowlist/{codec}.json",
        validation="results/validate/{codec}.json",
        onnx="results/export/predictor_{codec}.onnx",
    output:
        "results/card/predictor_{codec}_card.md",
    log:
        "logs/card/{codec}.log",
    benchmark:
        "benchmarks/card/{codec}.tsv"
    # Measured per Slurm job, both Snakemake processes included:
    # peak RSS 397 MB, 6 s; one CPU. Requested with headroom.
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        opset=config["opset"],
        built_with=BUILT_WITH,
    script:
        "../scripts/card.py"
