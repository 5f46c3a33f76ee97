from pathlib import Path

from vmaf_predictor.report import markdown_page
from vmaf_predictor.stage import logged_to

with logged_to(snakemake.log[0]) as log:
    text = Path(snakemake.input[0]).read_text(encoding="utf-8")
    page = markdown_page("Corpus report", text)
    Path(snakemake.output[0]).write_text(page, encoding="utf-8")
    log.info("wrote %s", snakemake.output[0])
