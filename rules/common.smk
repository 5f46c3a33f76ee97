# Cheap helpers shared by the rules: config validation, the codec list, the
# code each rule's script runs, and the inputs that depend on the corpus split.
# Nothing here reads the corpus (that is the split rule's job), and nothing
# here takes a lock, starts a program or installs a signal handler while the
# workflow is read.

import functools
import json
import os
import sys
from pathlib import Path

from snakemake.exceptions import IncompleteCheckpointException
from snakemake.io import checkpoint_target

from vmaf_predictor import names
from vmaf_predictor import config_file as workflow_config
from vmaf_predictor.factory.code import script_files
from vmaf_predictor.factory.jobs import RUN_PID
from vmaf_predictor.factory import runs
from vmaf_predictor.factory.network import TrainSettings, train_job_resources
from vmaf_predictor.runtime.corpus import MIN_ROWS, corpus_files
from vmaf_predictor.factory.s7_card import built_with
from vmaf_predictor.factory.sources import SRC_PATTERN, SourcesError, list_sources
from vmaf_predictor.names import NAME_PATTERN
from vmaf_predictor.runtime import ffmpeg
from vmaf_predictor.factory.s8_hash import committed_sums as read_committed_sums

USAGE_ERROR = 2

# A job's shell: Ctrl-C ignored until the job's Python takes it itself
# (jobs.run_stage), so a job that is starting never prints a traceback (the
# run stops it: runs.signals_stop_jobs); and the process a job dies with
# (jobs.run_stage, also when this one ended before the job began).
shell.prefix("set -euo pipefail; trap '' INT; ")
os.environ[RUN_PID] = str(os.getpid())
# Snakemake's lock check, made to survive a lock released meanwhile (runs.py).
runs.tolerate_released_locks()


def stop(message, status=USAGE_ERROR):
    """Stop before any job: each line of ``message`` as an error, no traceback."""
    for line in str(message).splitlines():
        print(f"error: {line}", file=sys.stderr)
    sys.exit(status)


try:
    workflow_config.validate(
        config,
        Path(workflow.basedir) / "schemas/config.schema.yaml",
        workflow_config.key_source(
            workflow.config_settings.config, workflow.config_settings.configfiles
        ),
    )
except workflow_config.ConfigError as error:
    stop(error)

CODECS = list(config["codecs"])
# Versions of what the bytes depend on; the cards name them.
BUILT_WITH = built_with()
# The corpus files, listed (never opened: reading them is the split's job).
try:
    CORPUS_FILES = (
        [str(p) for p in corpus_files(config["corpus"])] if config["corpus"] else []
    )
except FileNotFoundError as error:
    source = workflow_config.key_source(
        workflow.config_settings.config, workflow.config_settings.configfiles
    )(("corpus",))
    stop(f"{source}: key corpus: {error}")
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
    source = workflow_config.key_source(
        workflow.config_settings.config, workflow.config_settings.configfiles
    )(("sources",))
    stop(f"{source}: key sources: {error}")
CLIP_PATHS = {source.name: source.path for source in SOURCES}
SWEEP_CODECS = list(config["sweep_codecs"]) if SOURCES else []
# The sweep's rows are one more corpus file for the split.
SWEEP_CORPUS = "results/sweep/corpus.jsonl"
if SOURCES:
    CORPUS_FILES.append(SWEEP_CORPUS)
# A real corpus (rows to split): given, swept, or both (then the split reads
# the corpus's files and the sweep's rows).
REAL_CORPUS = bool(CORPUS_FILES)
CORPUS_PARAM = (
    [config["corpus"], SWEEP_CORPUS]
    if config["corpus"] and SOURCES
    else config["corpus"] or (SWEEP_CORPUS if SOURCES else None)
)


onstart:
    # Only a run that executes jobs gets here (not a dry run), holding
    # Snakemake's lock. Ctrl-C and SIGTERM stop the running jobs at once
    # (factory/runs.py: Snakemake waits for them, or hangs on SIGTERM).
    runs.signals_stop_jobs()
    outputs = [f for job in workflow.dag.needrun_jobs() for f in job.output]
    unwritable = runs.unwritable_outputs(outputs)
    if unwritable:
        stop(
            f"{unwritable} is not writable, and this run writes there; make it "
            "writable (chmod u+w) or run in a checkout you can write",
            status=1,
        )


def code(rule):
    """The files the rule's script (scripts/<rule>.py) runs: the script, the
    stage module it names and the package modules they import
    (factory/code.py). Editing one reruns exactly the jobs that execute it.
    Paths inside this checkout are relative (to the working directory, which
    verify moves), so moving a checkout reruns nothing."""
    checkout = Path(workflow.basedir).resolve()
    script = checkout / "scripts" / f"{rule}.py"
    files = [Path(path) for path in script_files(script)]
    return [os.path.relpath(p) if p.is_relative_to(checkout) else str(p) for p in files]


def model_path(directory, codec="{codec}"):
    return f"{directory}/{names.model_file_name(codec)}"


def card_path(directory, codec="{codec}"):
    return f"{directory}/{names.card_file_name(codec)}"


def split_manifest():
    """The split's manifest; with a real corpus Snakemake re-plans every job
    that calls this once the split has run (see after_split)."""
    manifest = Path(checkpoints.split.get().output.manifest)
    try:
        return manifest, json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        # Another run's split job is rewriting it (Snakemake removes a job's
        # outputs before it runs): this run is refused anyway.
        stop(
            f"{manifest} vanished while this run read it (another run in this "
            "checkout is rewriting it?); run the command again",
            status=1,
        )


def real_entry(codec):
    """The split's entry for ``codec``, or None (no corpus, or too few rows)."""
    if not REAL_CORPUS:
        return None
    manifest, content = split_manifest()
    entry = content["codecs"].get(codec)
    return entry if entry and entry["rows"] >= MIN_ROWS else None


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


def train_resource(name):
    """A resource of the codec's train job (mem_mb or runtime), from its rows:
    the split's count for a real codec, synthetic_rows for a stub."""

    def resource(wildcards):
        entry = real_entry(wildcards.codec)
        rows = entry["rows"] if entry else config["synthetic_rows"]
        settings = TrainSettings(**train_settings(wildcards))
        evaluation = config["evaluation"] if entry else None
        return train_job_resources(rows, settings, evaluation)[name]

    return resource


def codec_entry(wildcards):
    return config["codecs"][wildcards.codec]


def committed_sums(wildcards):
    """What the overview compares the build with: the committed SHA256SUMS."""
    sums, source = read_committed_sums(Path(workflow.basedir))
    return {"sums": sums, "source": source}


# The report's inputs (rules/report.smk).


def overview_inputs():
    """Each codec's build outputs that one overview line is made of."""
    outputs = {
        "trained": rules.train.output.trained,
        "corpus_info": rules.corpus.output.info,
        "allowlist": rules.export.output.allowlist,
        "validation": rules.export.output.validation,
        "onnx": rules.export.output.onnx,
        "card": rules.export.output.card,
    }
    return {key: expand(path, codec=CODECS) for key, path in outputs.items()}


def report_inputs():
    """Everything `snakemake --report` shows, for the report_pages target."""
    pages = expand(rules.report_codec.output, codec=CODECS)
    pages += rules.report_overview.output
    if REAL_CORPUS:
        pages += rules.report_corpus.output
    pages += expand(rules.report_sweep.output, codec=SWEEP_CODECS)
    return pages


# The sweep's inputs and params (rules/sweep.smk).


@functools.cache
def ffmpeg_version():
    """The FFmpeg version, a param of every sweep job (so the sweep reruns
    when FFmpeg changes): found once, when the first sweep job is planned,
    never in a run without a sweep."""
    try:
        return ffmpeg.ffmpeg_version(ffmpeg.locate(config["ffmpeg"]["path"]))
    except (FileNotFoundError, ffmpeg.FFmpegError) as error:
        stop(f"the sweep needs FFmpeg: {error}")


def sweep_settings(*keys):
    """The part of the sweep's settings that decides a job's bytes (a param:
    changing another codec's or another step's setting reruns nothing here)."""

    def settings(wildcards):
        sweep = config["sweep"]
        chosen = {
            "ffmpeg": config["ffmpeg"]["path"],
            "ffmpeg_version": ffmpeg_version(),
        }
        for key in keys:
            if key in ("probe", "production"):
                chosen[key] = {wildcards.codec: sweep[key][wildcards.codec]}
            else:
                chosen[key] = sweep[key]
        return chosen

    return settings


def sweep_check_manifest():
    """The check's manifest, once it has run; before, Snakemake runs it first
    and plans the jobs that call this afterwards: no encode starts before
    every clip opened."""
    return checkpoints.sweep_check.get().output.manifest


_LISTINGS = {}


def read_listing(path):
    """sweep_sources' listing, parsed once per version of the file (the
    scheduler asks for a source's file many times)."""
    stat = os.stat(path)
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _LISTINGS:
        _LISTINGS.clear()
        text = Path(path).read_text(encoding="utf-8")
        _LISTINGS[key] = json.loads(text)["clips"]
    return _LISTINGS[key]


def clip_shots(clip):
    """A clip's shot entries; before every clip is split (the sweep_sources
    checkpoint), Snakemake runs the splits first and plans the jobs that
    call this afterwards."""
    listing = checkpoints.sweep_sources.get().output.sources
    clips = read_listing(listing)
    if clip not in clips:
        # A listing of an earlier run, before this clip was added: wait for
        # the checkpoint to run again.
        raise IncompleteCheckpointException(
            rules.sweep_sources.rule, checkpoint_target(listing)
        )
    return clips[clip]


def shot_entry(src):
    clip = names.clip_of(src)
    for entry in clip_shots(clip):
        if entry["src"] == src:
            return entry
    raise WorkflowError(f"{src}: no such shot of clip {clip}")


def shot_path(src):
    """The file a source (a shot) is swept from: its own reference, or the
    clip itself when the clip is one clean shot."""
    if shot_entry(src)["reference"]:
        return expand(rules.sweep_reference.output.reference, src=src)[0]
    return CLIP_PATHS[names.clip_of(src)]


def reference_inputs(wildcards):
    """A shot reference's inputs: the clip, and its shots manifest (ancient:
    a re-run split that gives the shot the same frames rewrites nothing)."""
    clip = names.clip_of(wildcards.src)
    shot_entry(wildcards.src)  # every split first
    return {
        "clip": CLIP_PATHS[clip],
        "shots": ancient(expand(rules.sweep_shots.output.shots, clip=clip)[0]),
    }


def after_shots(**inputs):
    """Named inputs of a source's (a shot's) job: the file it is swept from
    (shot_path), the clip check's manifest (ancient), and ``inputs``."""

    def wait_for_shots(wildcards):
        values = dict(wildcards.items())
        named = {key: value.format(**values) for key, value in inputs.items()}
        return {
            "checked": ancient(sweep_check_manifest()),
            "clip": shot_path(wildcards.src),
            **named,
        }

    return wait_for_shots


def sweep_sources():
    """Every sweep source (a shot), in row order: clips in sources order,
    each clip's shots in frame order (after every clip's split)."""
    return [entry["src"] for clip in CLIP_PATHS for entry in clip_shots(clip)]


def sweep_plan():
    """(source, codec, quality value) of every row, in row order: sources in
    sweep_sources order, codecs in sweep_codecs order, quality values
    ascending."""
    return [
        [src, codec, q]
        for src in sweep_sources()
        for codec in SWEEP_CODECS
        for q in workflow_config.ladder(config, codec)
    ]


def sweep_probes():
    return [[src, codec] for src in sweep_sources() for codec in SWEEP_CODECS]


def gather_inputs(wildcards):
    """sweep_gather's inputs, once every clip is split: the sources, and
    each source's info, probes and encodes in row order."""
    plan, probes = sweep_plan(), sweep_probes()
    return {
        "sources": checkpoints.sweep_sources.get().output.sources,
        "infos": expand(rules.sweep_clip.output.info, src=sweep_sources()),
        "probes": expand(
            rules.sweep_probe.output.probe,
            zip,
            src=[src for src, _ in probes],
            codec=[codec for _, codec in probes],
        ),
        "encodes": expand(
            rules.sweep_encode.output.result,
            zip,
            src=[src for src, _, _ in plan],
            codec=[codec for _, codec, _ in plan],
            q=[q for _, _, q in plan],
        ),
    }


def sweep_target(wildcards):
    if not SOURCES:
        raise WorkflowError(
            "the sweep needs clips: snakemake sweep --config sources=DIR "
            "(a directory of clips, or a sources sheet)"
        )
    return rules.sweep_gather.output.corpus
