rule card:
    """The model card: what, output, usage, provenance, limitations."""
    input:
        PACKAGE,
        trained="results/train/{codec}.json",
        corpus_info="results/corpus/{codec}.json",
        allowlist="results/allowlist/{codec}.json",
        validation="results/validate/{codec}.json",
        onnx="results/export/predictor_{codec}.onnx",
    output:
        "results/card/predictor_{codec}_card.md",
    log:
        "logs/card/{codec}.log",
    benchmark:
        "benchmarks/card/{codec}.tsv"
    params:
        opset=config["opset"],
        built_with=BUILT_WITH,
    script:
        "../scripts/card.py"
