rule export:
    """The ONNX graph, checked against the trained model in onnxruntime."""
    input:
        PACKAGE,
        trained="results/train/{codec}.json",
    output:
        "results/export/predictor_{codec}.onnx",
    log:
        "logs/export/{codec}.log",
    benchmark:
        "benchmarks/export/{codec}.tsv"
    params:
        opset=config["opset"],
    script:
        "../scripts/export.py"
