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
    params:
        codec=codec_entry,
        synthetic_rows=config["synthetic_rows"],
        real_features=real_features,
    script:
        "../scripts/corpus.py"
