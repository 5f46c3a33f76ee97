from vmaf_predictor.factory.jobs import run_stage

run_stage(snakemake, "report.run_overview")
