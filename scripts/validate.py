from vmaf_predictor.registry import codec_from_config
from vmaf_predictor.stage import logged_to
from vmaf_predictor.validate import validate_file

with logged_to(snakemake.log[0]) as log:
    report = validate_file(
        snakemake.input.onnx,
        snakemake.input.trained,
        codec_from_config(snakemake.wildcards.codec, snakemake.params.codec),
        snakemake.input.table,
        snakemake.output[0],
    )
    log.info("%s", report)
