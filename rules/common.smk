# Helpers shared by all stages (config validation, the codec list) and
# the params that decide the bytes of each output.

from pathlib import Path

from vmaf_predictor import config as workflow_config
from vmaf_predictor.card import built_with, card_file_name, model_file_name
from vmaf_predictor.corpus import corpus_files

try:
    workflow_config.validate(
        config, Path(workflow.basedir) / "schemas/config.schema.yaml"
    )
except workflow_config.ConfigError as error:
    raise WorkflowError(str(error)) from None

CODECS = list(config["codecs"])
# A real corpus, when given, is an input of every corpus job; a wrong path
# stops here, before any job runs.
try:
    REAL_CORPUS_FILES = (
        [str(p) for p in corpus_files(config["corpus"])] if config["corpus"] else []
    )
except FileNotFoundError as error:
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
