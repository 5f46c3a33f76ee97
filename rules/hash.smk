rule publish:
    """Install a codec's checked model and its card into model/, atomically."""
    input:
        onnx="results/export/predictor_{codec}.onnx",
        card="results/card/predictor_{codec}_card.md",
        # Only a model that passed the allowlist and validation reaches model/.
        allowlist="results/allowlist/{codec}.json",
        validation="results/validate/{codec}.json",
    output:
        onnx="model/predictor_{codec}.onnx",
        card="model/predictor_{codec}_card.md",
    log:
        "logs/publish/{codec}.log",
    benchmark:
        "benchmarks/publish/{codec}.tsv"
    # Measured per Slurm job, both Snakemake processes included:
    # peak RSS 355 MB, 6 s; one CPU. Requested with headroom.
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    # Copy beside the target, then rename: a reader of model/ never sees half a file.
    shell:
        "(cp {input.onnx} {output.onnx}.partial && mv {output.onnx}.partial {output.onnx}"
        " && cp {input.card} {output.card}.partial && mv {output.card}.partial {output.card}"
        ") > {log} 2>&1"


rule hash:
    """model/PROVENANCE.json (which corpus built each model) and the sha256 of
    every published file in model/SHA256SUMS."""
    input:
        PACKAGE,
        artefacts=published(),
        corpus_infos=expand("results/corpus/{codec}.json", codec=CODECS),
    output:
        provenance="model/PROVENANCE.json",
        sums="model/SHA256SUMS",
    log:
        "logs/hash.log",
    benchmark:
        "benchmarks/hash.tsv"
    # Measured per Slurm job, both Snakemake processes included:
    # peak RSS 294 MB, 5 s; one CPU. Requested with headroom.
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/hash.py"
