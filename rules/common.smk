# Helpers shared by all stages (config validation, the codec list) and
# the params that decide the bytes of each output.

from pathlib import Path

from vmaf_predictor import config as workflow_config
from vmaf_predictor import corpus_split
from vmaf_predictor.card import built_with, card_file_name, model_file_name
from vmaf_predictor.hashes import committed_sums as read_committed_sums
from vmaf_predictor.registry import registry_from_config

try:
    workflow_config.validate(
        config, Path(workflow.basedir) / "schemas/config.schema.yaml"
    )
except workflow_config.ConfigError as error:
    raise WorkflowError(str(error)) from None

CODECS = list(config["codecs"])
REGISTRY = registry_from_config(config)
# A real corpus is split into per-codec tables now, before any job runs: a
# wrong path or a bad row stops here, and a table is rewritten only when its
# rows change (so only that codec retrains).
REAL_DIR = "results/corpus/real"
try:
    SPLIT = corpus_split.prepare(config, REGISTRY, REAL_DIR, "results", logger.info)
except (FileNotFoundError, corpus_split.CorpusError) as error:
    raise WorkflowError(f"config key corpus: {error}") from None
# The package is an input of every stage, so editing its code reruns the jobs.
PACKAGE = sorted(str(p) for p in Path(workflow.basedir, "vmaf_predictor").glob("*.py"))
# Versions of what the bytes depend on; the cards name them.
BUILT_WITH = built_with()


def published():
    """The model/ files that all_stubs and hash cover, per codec."""
    return expand(
        ["model/{model}", "model/{card}"],
        zip,
        model=[model_file_name(c) for c in CODECS],
        card=[card_file_name(c) for c in CODECS],
    )


def train_settings(wildcards):
    return workflow_config.train_settings(config, wildcards.codec)


def codec_entry(wildcards):
    return config["codecs"][wildcards.codec]


def real_table(wildcards):
    """The codec's split table, when the corpus has enough rows for it."""
    table = SPLIT.table(wildcards.codec, REAL_DIR) if SPLIT else None
    return str(table) if table else []


def real_features(wildcards):
    entry = SPLIT.codecs.get(wildcards.codec) if SPLIT else None
    return "probe" if entry and entry.probe else "stand-in"


def report_inputs():
    """Everything `snakemake --report` shows, for the report_pages target."""
    pages = expand(
        "results/report/{codec}/{page}",
        codec=CODECS,
        page=["vmaf_vs_crf.png", "holdout.png", "loss.png", "card.html"],
    )
    pages.append("results/report/overview.html")
    if SPLIT:
        pages.append("results/report/corpus_report.html")
    return pages


def overview_inputs():
    """Each codec's build outputs that one overview line is made of."""
    return {
        "trained": expand("results/train/{codec}.json", codec=CODECS),
        "corpus_info": expand("results/corpus/{codec}.json", codec=CODECS),
        "allowlist": expand("results/allowlist/{codec}.json", codec=CODECS),
        "validation": expand("results/validate/{codec}.json", codec=CODECS),
        "onnx": expand("results/export/predictor_{codec}.onnx", codec=CODECS),
        "card": expand("results/card/predictor_{codec}_card.md", codec=CODECS),
    }


def committed_sums(wildcards):
    """What the overview compares the build with: the committed SHA256SUMS."""
    sums, source = read_committed_sums(Path(workflow.basedir))
    return {"sums": sums, "source": source}
