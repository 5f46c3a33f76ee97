from vmaf_predictor.card import write_card
from vmaf_predictor.stage import logged_to

with logged_to(snakemake.log[0]) as log:
    write_card(
        snakemake.input.trained,
        snakemake.input.corpus_info,
        snakemake.input.allowlist,
        snakemake.input.validation,
        snakemake.input.onnx,
        snakemake.params.opset,
        snakemake.params.built_with,
        snakemake.output[0],
    )
    log.info("wrote %s", snakemake.output[0])
