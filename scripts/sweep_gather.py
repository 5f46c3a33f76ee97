from vmaf_predictor.factory.jobs import run_stage

run_stage(snakemake, "s0_sweep.run_gather")
