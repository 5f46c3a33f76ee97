from vmaf_predictor.stage import logged_to
from vmaf_predictor.verify import verify

with logged_to(snakemake.log[0]):
    verify(
        snakefile=snakemake.params.snakefile,
        config=snakemake.params.config,
        work_area=snakemake.params.work_area,
        committed=snakemake.params.committed,
        cores=snakemake.threads,
    )
