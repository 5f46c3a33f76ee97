rule corpus:
    """A codec's canonical training table: real rows or its synthetic stub."""
    input:
        PACKAGE,
    output:
        table="results/corpus/{codec}.csv",
        info="results/corpus/{codec}.json",
    params:
        codec=codec_entry,
        synthetic_rows=config["synthetic_rows"],
    log:
        "logs/corpus/{codec}.log",
    benchmark:
        "benchmarks/corpus/{codec}.tsv"
    script:
        "../scripts/corpus.py"
