from vmaf_predictor.corpus import build_corpus
from vmaf_predictor.registry import codec_from_config
from vmaf_predictor.stage import logged_to

with logged_to(snakemake.log[0]) as log:
    info = build_corpus(
        codec_from_config(snakemake.wildcards.codec, snakemake.params.codec),
        snakemake.params.synthetic_rows,
        snakemake.input.real_table or None,
        snakemake.params.real_features,
        snakemake.output.table,
        snakemake.output.info,
    )
    log.info("%s: %s, sha256 %s", info.codec, info.label, info.sha256)
