from vmaf_predictor.registry import codec_from_config
from vmaf_predictor.report import write_codec_pages
from vmaf_predictor.stage import logged_to

with logged_to(snakemake.log[0]) as log:
    write_codec_pages(
        codec_from_config(snakemake.wildcards.codec, snakemake.params.codec),
        snakemake.input.trained,
        snakemake.input.onnx,
        snakemake.input.corpus_info,
        snakemake.input.card,
        snakemake.output,
    )
    log.info("wrote %s", ", ".join(snakemake.output))
