from vmaf_predictor import trained
from vmaf_predictor.export import export
from vmaf_predictor.stage import logged_to

with logged_to(snakemake.log[0]) as log:
    model = trained.load(snakemake.input.trained)
    data, worst = export(model, snakemake.params.opset, snakemake.output[0])
    log.info(
        "%s: %d bytes, onnxruntime within %.2g of torch", model.codec, len(data), worst
    )
