from vmaf_predictor.hashes import write_sums
from vmaf_predictor.stage import logged_to

with logged_to(snakemake.log[0]) as log:
    text = write_sums(
        snakemake.input.artefacts,
        snakemake.output.sums,
        snakemake.input.corpus_infos,
    )
    log.info("%d files hashed", text.count("\n"))
