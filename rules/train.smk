rule train:
    """Seeded float64 training of the MLP; held-out PLCC, SROCC and RMSE."""
    input:
        PACKAGE,
        table="results/corpus/{codec}.csv",
    output:
        "results/train/{codec}.json",
    log:
        "logs/train/{codec}.log",
    benchmark:
        "benchmarks/train/{codec}.tsv"
    params:
        settings=train_settings,
    script:
        "../scripts/train.py"
