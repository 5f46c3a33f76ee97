rule train:
    """Seeded float64 training of the monotone network; held-out metrics."""
    input:
        unpack(after_split(table=rules.corpus.output.table)),
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
    script:
        "../scripts/stage.py"
