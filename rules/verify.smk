rule verify:
    """CI target: rebuild everything from scratch in results/verify/ (never
    touching model/) and compare every file's sha256 with model/SHA256SUMS."""
    localrule: True
    threads: workflow.cores
    params:
        snakefile=workflow.main_snakefile,
        config=config,
        work_area="results/verify",
        committed="model",
    log:
        "logs/verify.log",
    benchmark:
        "benchmarks/verify.tsv"
    script:
        "../scripts/verify.py"
