rule corpus:
    """A codec's canonical training table: real rows or its synthetic stub."""
    input:
        PACKAGE,
        real_table=real_table,
    output:
        table="results/corpus/{codec}.csv",
        info="results/corpus/{codec}.json",
    log:
        "logs/corpus/{codec}.log",
    benchmark:
        "benchmarks/corpus/{codec}.tsv"
    # Measured per Slurm job, both Snakemake processes included:
    # peak RSS 295 MB, 6 s; one CPU. Requested with headroom.
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        codec=codec_entry,
        synthetic_rows=config["synthetic_rows"],
        real_features=real_features,
    script:
        "../scripts/corpus.py"
