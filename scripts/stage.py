# Every rule's script: run the job's stage (vmaf_predictor.build.stages.STAGES).
from vmaf_predictor.build.stages import run_stage

run_stage(snakemake)
