# Every rule's script: run the job's stage (vmaf_predictor.build.STAGES).
from vmaf_predictor.build.jobs import run_stage

run_stage(snakemake)
