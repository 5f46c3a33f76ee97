from vmaf_predictor.report import OVERVIEW_INPUTS, write_overview
from vmaf_predictor.stage import logged_to

with logged_to(snakemake.log[0]) as log:
    rows = write_overview(
        snakemake.params.codecs,
        {kind: snakemake.input[kind] for kind in OVERVIEW_INPUTS},
        snakemake.params.committed["sums"],
        snakemake.params.committed["source"],
        snakemake.output[0],
    )
    log.info("wrote %s (%d codecs)", snakemake.output[0], len(rows))
