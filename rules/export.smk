rule export:
    """The ONNX graph of the trained network, built node by node, then checked
    (every op on the libvmaf allowlist; onnxruntime as a consumer: range,
    strict CRF monotonicity, parity, I/O) and documented (the model card).
    One job: onnx and onnxruntime load once a codec, torch not at all."""
    input:
        unpack(
            after_split(
                trained=rules.train.output.trained,
                table=rules.corpus.output.table,
                corpus_info=rules.corpus.output.info,
            )
        ),
        code=code("export"),
    output:
        onnx=model_path("results/export"),
        allowlist="results/allowlist/{codec}.json",
        validation="results/validate/{codec}.json",
        card=card_path("results/card"),
    log:
        "logs/export/{codec}.log",
    benchmark:
        "benchmarks/export/{codec}.tsv"
    # Measured per Slurm job, both Snakemake processes included:
    # peak RSS 397 MB, 6 s; one CPU. Requested with headroom.
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        opset=config["opset"],
        ops=sorted(config["allowlist"]["ops"]),
        loop_max_trip_count=config["allowlist"]["loop_max_trip_count"],
        codec=codec_entry,
        built_with=BUILT_WITH,
    script:
        "../scripts/export.py"
