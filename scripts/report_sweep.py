from vmaf_predictor.factory.jobs import run_stage

run_stage(snakemake, "report_sweep.run")
