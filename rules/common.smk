# Helpers shared by all stages (config validation, the codec list) and
# the params that decide the bytes of each output.

from pathlib import Path

from vmaf_predictor import config as workflow_config
from vmaf_predictor import corpus_split
from vmaf_predictor.card import built_with, card_file_name, model_file_name
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
