rule publish:
    """Install a codec's checked model and its card into model/, atomically."""
    input:
        unpack(
            after_split(
                # The export job writes these only once the model passed
                # the allowlist and validation.
                onnx=rules.export.output.onnx,
                card=rules.export.output.card,
            )
        ),
    output:
        onnx=model_path(names.MODEL_DIR),
        card=card_path(names.MODEL_DIR),
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
        unpack(
            after_split(
                artefacts=expand(
                    [rules.publish.output.onnx, rules.publish.output.card],
                    codec=CODECS,
                ),
                corpus_infos=expand(rules.corpus.output.info, codec=CODECS),
            )
        ),
        code=code("hash"),
    output:
        provenance=f"{names.MODEL_DIR}/{names.PROVENANCE_NAME}",
        sums=f"{names.MODEL_DIR}/{names.SUMS_NAME}",
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
