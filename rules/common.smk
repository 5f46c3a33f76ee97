# Cheap helpers shared by the rules: config validation, the codec list, the
# code each stage runs, and the inputs that depend on the corpus split.
# Nothing here reads the corpus: that is the split rule's job.

import json
import os
from pathlib import Path

from vmaf_predictor import names
from vmaf_predictor.build import config as workflow_config
from vmaf_predictor.build import module_name
from vmaf_predictor.build.code import module_files
try:  # TEMP until s1_split lands
    from vmaf_predictor.build.s1_split import corpus_files
except ImportError:
    from vmaf_predictor.corpus_split import corpus_files
from vmaf_predictor.build.s7_card import built_with
from vmaf_predictor.build.sources import NAME_PATTERN, SourcesError, list_sources
from vmaf_predictor.runtime import ffmpeg
from vmaf_predictor.build.s8_hash import committed_sums as read_committed_sums

try:
    workflow_config.validate(
        config, Path(workflow.basedir) / "schemas/config.schema.yaml"
    )
except workflow_config.ConfigError as error:
    raise WorkflowError(str(error)) from None

CODECS = list(config["codecs"])
# Versions of what the bytes depend on; the cards name them.
BUILT_WITH = built_with()
# A codec trains on the real corpus when the split gives it this many rows.
MIN_REAL_ROWS = 2
# The corpus files, listed (never opened: reading them is the split's job).
try:
    CORPUS_FILES = [str(p) for p in corpus_files(config["corpus"])] if config["corpus"] else []
except FileNotFoundError as error:
    raise WorkflowError(f"config key corpus: {error}") from None
# The clips to sweep (listed, not opened: the sweep_check job opens them).
try:
    SOURCES = (
        list_sources(
            config["sources"], Path(workflow.basedir) / "schemas/sources.schema.yaml"
        )
        if config["sources"]
        else []
    )
except SourcesError as error:
    raise WorkflowError(f"config key sources: {error}") from None
CLIP_PATHS = {source.name: source.path for source in SOURCES}
SWEEP_CODECS = list(config["sweep_codecs"]) if SOURCES else []
# The sweep's rows are one more corpus file for the split.
SWEEP_CORPUS = "results/sweep/corpus.jsonl"
FFMPEG_VERSION = None  # found when there are clips to sweep
if SOURCES:
    CORPUS_FILES.append(SWEEP_CORPUS)
    try:
        FFMPEG_VERSION = ffmpeg.ffmpeg_version(ffmpeg.locate(config["ffmpeg"]["path"]))
    except (FileNotFoundError, ffmpeg.FFmpegError) as error:
        raise WorkflowError(f"the sweep needs FFmpeg: {error}") from None
# A real corpus (rows to split): given, swept, or both.
REAL_CORPUS = bool(CORPUS_FILES)


def code(rule):
    """The package files the rule's stage runs: editing one reruns exactly
    the jobs that execute it. When the package is part of this checkout the
    paths are relative (to the working directory, which verify moves), so
    moving a checkout reruns nothing."""
    checkout = Path(workflow.basedir).resolve()
    files = [Path(path) for path in module_files(module_name(rule))]
    return [
        os.path.relpath(p) if p.is_relative_to(checkout) else str(p) for p in files
    ]


def model_path(directory, codec="{codec}"):
    return f"{directory}/{names.model_file_name(codec)}"


def card_path(directory, codec="{codec}"):
    return f"{directory}/{names.card_file_name(codec)}"


def split_manifest():
    """The split's manifest; with a real corpus Snakemake re-plans every job
    that calls this once the split has run (see after_split)."""
    manifest = Path(checkpoints.split.get().output.manifest)
    return manifest, json.loads(manifest.read_text(encoding="utf-8"))


def real_entry(codec):
    """The split's entry for ``codec``, or None (no corpus, or too few rows)."""
    if not REAL_CORPUS:
        return None
    manifest, content = split_manifest()
    entry = content["codecs"].get(codec)
    return entry if entry and entry["rows"] >= MIN_REAL_ROWS else None


def real_table(wildcards):
    """The codec's content-addressed table from the split, or [] for a stub:
    its file name changes exactly when its rows do."""
    entry = real_entry(wildcards.codec)
    if entry is None:
        return []
    return str(Path(checkpoints.split.get().output.manifest).parent / entry["table"])


def real_features(wildcards):
    entry = real_entry(wildcards.codec)
    return "probe" if entry and entry["probe"] else "stand-in"


def after_split(**inputs):
    """Named inputs of a job that waits for the corpus split.

    With a real corpus every job downstream of the split is planned again
    after the split has run: Snakemake then sees which codecs' tables
    changed, and reruns only those codecs (a job planned before the split
    would inherit "input updated by another job" from every codec).
    """

    def wait_for_split(wildcards):
        if REAL_CORPUS:
            split_manifest()
        values = dict(wildcards.items())

        def fill(value):
            if isinstance(value, str):
                return value.format(**values)
            return [fill(v) for v in value]

        return {key: fill(value) for key, value in inputs.items()}

    return wait_for_split


def train_settings(wildcards):
    return workflow_config.train_settings(config, wildcards.codec)


def codec_entry(wildcards):
    return config["codecs"][wildcards.codec]


def committed_sums(wildcards):
    """What the overview compares the build with: the committed SHA256SUMS."""
    sums, source = read_committed_sums(Path(workflow.basedir))
    return {"sums": sums, "source": source}
