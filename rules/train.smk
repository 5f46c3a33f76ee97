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
    # Measured per Slurm job, both Snakemake processes included: peak RSS
    # 506 MB, 7 s for 100 rows (training alone: 237 MB; 263 MB and 25 s
    # for 2,600 rows); one CPU. Requested with headroom for real corpora.
    threads: 1
    resources:
        mem_mb=1500,
        runtime=30,
    params:
        settings=train_settings,
        codec=codec_entry,
        evaluation=config["evaluation"],
    script:
        "../scripts/stage.py"
