from vmaf_predictor.allowlist import check_file
from vmaf_predictor.stage import logged_to

with logged_to(snakemake.log[0]) as log:
    report = check_file(
        snakemake.input.onnx,
        snakemake.wildcards.codec,
        snakemake.params.ops,
        snakemake.params.loop_max_trip_count,
        snakemake.output[0],
    )
    log.info(
        "%s: %s, %d nodes, ops %s",
        report.codec,
        report.status,
        report.nodes,
        report.ops,
    )
