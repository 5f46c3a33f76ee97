# CI target: rebuild everything from scratch in results/verify/ (never
# touching model/) and compare every file's sha256 with model/SHA256SUMS.
rule verify:
    # No benchmark: it would count as an output, and Snakemake would then skip
    # the next verify as up to date (a target without outputs always runs).
    input:
        code=code("verify"),
    log:
        "logs/verify.log",
    localrule: True
    threads: workflow.cores
    params:
        snakefile=workflow.main_snakefile,
        config=config,
        work_area="results/verify",
        committed=names.MODEL_DIR,
        cores=workflow.cores,
    script:
        "../scripts/verify.py"
