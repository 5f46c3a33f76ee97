rule train:
    """Seeded float64 training of the MLP; held-out PLCC, SROCC and RMSE."""
    input:
        PACKAGE,
        table="results/corpus/{codec}.csv",
    output:
        "results/train/{codec}.json",
    params:
        settings=train_settings,
    log:
        "logs/train/{codec}.log",
    benchmark:
        "benchmarks/train/{codec}.tsv"
    script:
        "../scripts/train.py"
