rule allowlist:
    """Every op, subgraphs included, must be on the libvmaf allowlist."""
    input:
        unpack(after_split(onnx=rules.export.output.onnx)),
        code=code("allowlist"),
    output:
        report="results/allowlist/{codec}.json",
    log:
        "logs/allowlist/{codec}.log",
    benchmark:
        "benchmarks/allowlist/{codec}.tsv"
    # Measured per Slurm job, both Snakemake processes included:
    # peak RSS 397 MB, 6 s; one CPU. Requested with headroom.
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        ops=sorted(config["allowlist"]["ops"]),
        loop_max_trip_count=config["allowlist"]["loop_max_trip_count"],
    script:
        "../scripts/allowlist.py"
