# Stage 1 (real corpus only) and stage 2: the training rows of each codec.


checkpoint split:
    """Read the real corpus once: one content-addressed Parquet table per codec
    with enough rows, and the corpus report."""
    input:
        code=code("split"),
        corpus=CORPUS_FILES,
    output:
        manifest="results/split/manifest.json",
        report_json="results/corpus_report.json",
        report_md="results/corpus_report.md",
    log:
        "logs/split.log",
    benchmark:
        "benchmarks/split.tsv"
    # pyarrow decodes each chunk on every CPU it is given.
    threads: 2
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        corpus=CORPUS_PARAM,
        codecs=config["codecs"],
        bad_rows=config["corpus_bad_rows"],
        max_line_bytes=config["corpus_max_line_bytes"],
    script:
        "../scripts/split.py"


rule corpus:
    """A codec's training table: its real rows, or its synthetic stub."""
    input:
        code=code("corpus"),
        real=real_table,
    output:
        table="results/corpus/{codec}.parquet",
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
