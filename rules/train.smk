rule train:
    """Seeded float64 training of the monotone network; held-out metrics beside
    the baselines (grouped cross-validation by source for a real corpus)."""
    input:
        unpack(
            after_split(table=rules.corpus.output.table, info=rules.corpus.output.info)
        ),
        code=code("train"),
    output:
        trained="results/train/{codec}.json",
    log:
        "logs/train/{codec}.log",
    benchmark:
        "benchmarks/train/{codec}.tsv"
    # One CPU; memory and time follow the codec's rows and the number of
    # trainings (network.train_job_resources: three times the measured).
    threads: 1
    resources:
        mem_mb=train_resource("mem_mb"),
        runtime=train_resource("runtime"),
    params:
        settings=train_settings,
        codec=codec_entry,
        evaluation=config["evaluation"],
    script:
        "../scripts/train.py"
