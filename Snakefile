# The VMAF-predictor model factory: for each codec of config.yaml,
# (sweep) -> (split) -> corpus -> train -> export (graph, allowlist, validate,
# card) -> publish, then hash. Start with README.md and docs/architecture.md;
# `snakemake --cores 4` builds model/.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/sweep.smk"
include: "rules/corpus.smk"
include: "rules/train.smk"
include: "rules/export.smk"
include: "rules/hash.smk"
include: "rules/verify.smk"
include: "rules/report.smk"


wildcard_constraints:
    codec="|".join(CODECS),
    clip=NAME_PATTERN,
    src=SRC_PATTERN,
    q=r"\d+",


rule all_stubs:
    """Build every codec's model and card into model/, with model/SHA256SUMS."""
    default_target: True
    input:
        rules.hash.output,


rule report_pages:
    """Make the figures and pages of the HTML report; then
    `snakemake --report report.html report_pages` (or `make report`)."""
    input:
        report_inputs(),
