rule validate:
    """onnxruntime as a consumer: range, strict CRF monotonicity, parity, I/O."""
    input:
        PACKAGE,
        onnx="results/export/predictor_{codec}.onnx",
        trained="results/train/{codec}.json",
        table="results/corpus/{codec}.csv",
    output:
        "results/validate/{codec}.json",
    log:
        "logs/validate/{codec}.log",
    benchmark:
        "benchmarks/validate/{codec}.tsv"
    params:
        codec=codec_entry,
    script:
        "../scripts/validate.py"
