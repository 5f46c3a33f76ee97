from vmaf_predictor.factory.jobs import run_stage

run_stage(snakemake, "s8_hash.run")
