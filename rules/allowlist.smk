rule allowlist:
    """Every op, subgraphs included, must be on the libvmaf allowlist."""
    input:
        PACKAGE,
        onnx="results/export/predictor_{codec}.onnx",
    output:
        "results/allowlist/{codec}.json",
    params:
        ops=sorted(config["allowlist"]["ops"]),
        loop_max_trip_count=config["allowlist"]["loop_max_trip_count"],
    log:
        "logs/allowlist/{codec}.log",
    benchmark:
        "benchmarks/allowlist/{codec}.tsv"
    script:
        "../scripts/allowlist.py"
