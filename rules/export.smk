rule export:
    """The ONNX graph, checked against the trained model in onnxruntime."""
    input:
        PACKAGE,
        trained="results/train/{codec}.json",
    output:
        "results/export/predictor_{codec}.onnx",
    params:
        opset=config["opset"],
    log:
        "logs/export/{codec}.log",
    benchmark:
        "benchmarks/export/{codec}.tsv"
    script:
        "../scripts/export.py"
