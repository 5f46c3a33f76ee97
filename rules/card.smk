rule card:
    """The model card: what, output, usage, provenance, limitations."""
    input:
        unpack(
            after_split(
                trained=rules.train.output.trained,
                corpus_info=rules.corpus.output.info,
                allowlist=rules.allowlist.output.report,
                validation=rules.validate.output.report,
                onnx=rules.export.output.onnx,
            )
        ),
        code=code("card"),
    output:
        card=card_path("results/card"),
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
