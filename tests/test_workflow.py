"""End to end: the real workflow on two codecs in temporary checkouts."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from checkout import copy_workflow
from workflow_runs import real_rows, snakemake, write_corpus

ROOT = Path(__file__).resolve().parents[1]
CODECS = ("libx264", "av1_qsv")

pytestmark = pytest.mark.slow


def make_checkout(path: Path, codecs=CODECS, edit=None) -> Path:
    """A copy of the workflow whose config keeps only ``codecs``."""
    copy_workflow(path, codecs=codecs)
    if edit:
        config = yaml.safe_load((path / "config.yaml").read_text())
        edit(config)
        (path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def build(checkout: Path, cores: int = 2) -> Path:
    result = snakemake(checkout, "--cores", str(cores), "all_stubs")
    assert result.returncode == 0, result.stderr[-3000:]
    return checkout / "model"


def model_files(model_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(model_dir.iterdir())}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    checkout = make_checkout(tmp_path_factory.mktemp("wf") / "checkout")
    build(checkout)
    return checkout


def test_build_writes_a_model_and_a_card_per_codec_and_the_sums(built):
    names = set(model_files(built / "model"))
    expected = {f"predictor_{c}.onnx" for c in CODECS}
    expected |= {f"predictor_{c}_card.md" for c in CODECS}
    expected |= {"SHA256SUMS", "PROVENANCE.json"}
    assert names == expected
    check = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=built / "model", capture_output=True
    )
    assert check.returncode == 0, check.stdout


def test_built_models_are_the_committed_bytes(built):
    for name, data in model_files(built / "model").items():
        if name not in ("SHA256SUMS", "PROVENANCE.json"):  # these list 2 codecs
            assert data == (ROOT / "model" / name).read_bytes(), name


def test_every_job_leaves_a_log_and_a_benchmark(built):
    stages = ("corpus", "train", "export", "publish")
    for stage in stages:
        for codec in CODECS:
            assert (built / "logs" / stage / f"{codec}.log").is_file()
            assert (built / "benchmarks" / stage / f"{codec}.tsv").is_file()


def test_a_second_run_has_nothing_to_do(built):
    result = snakemake(built, "--cores", "2", "--dry-run", "all_stubs")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


def test_one_core_in_a_path_with_a_space_gives_the_same_bytes(built, tmp_path):
    other = make_checkout(tmp_path / "another clone")
    assert model_files(build(other, cores=1)) == model_files(built / "model")


def _codec_jobs(checkout: Path, *args: str) -> set[tuple[str, str]]:
    """(rule, codec) of every per-codec job a Snakemake run lists."""
    result = snakemake(checkout, "--cores", "2", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = re.findall(
        r"^(?:local)?rule (\w+):\n(?:    .*\n)*?    wildcards: codec=([\w-]+)",
        result.stdout + result.stderr,
        flags=re.M,
    )
    return set(jobs)


def _planned_jobs(checkout: Path, *args: str) -> set[tuple[str, str]]:
    return _codec_jobs(checkout, "--dry-run", *args)


def test_changing_one_codecs_settings_reruns_only_that_codec(built, tmp_path):
    override = tmp_path / "override.yaml"
    override.write_text("train_overrides: {libx264: {epochs: 5}}\n")
    jobs = _planned_jobs(built, "all_stubs", "--configfile", str(override))
    assert {codec for _, codec in jobs} == {"libx264"}
    assert {rule for rule, _ in jobs} == {"train", "export", "publish"}


@contextlib.contextmanager
def _edited(path: Path):
    """``path`` edited (a comment added, newer than every output), then
    restored. Content must change: Snakemake ignores a touch of a small file
    whose checksum it recorded."""
    before, text = path.stat(), path.read_bytes()
    path.write_bytes(text + b"\n# edited\n")
    os.utime(path, (before.st_atime, time.time() + 60))
    try:
        yield
    finally:
        path.write_bytes(text)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def _planned_rules(checkout: Path, target: str) -> set[str]:
    result = snakemake(checkout, "--dry-run", "--cores", "2", target)
    assert result.returncode == 0, result.stderr[-3000:]
    return set(re.findall(r"^(?:local)?rule (\w+):$", result.stdout, flags=re.M))


PER_CODEC_BUILD = {"train", "export", "publish"}


def test_editing_the_report_code_reruns_only_the_report(built):
    assert snakemake(built, "--cores", "2", "report_pages").returncode == 0
    with _edited(built / "vmaf_predictor" / "factory" / "report.py"):
        assert _planned_rules(built, "all_stubs") == set()
        assert _planned_rules(built, "report_pages") == {
            "report_codec",
            "report_overview",
            "report_pages",
        }


def test_editing_the_card_template_reruns_the_export_not_training(built):
    with _edited(built / "vmaf_predictor" / "factory" / "s7_card.py"):
        assert _planned_rules(built, "all_stubs") == {
            "export",
            "publish",
            "hash",
            "all_stubs",
        }


def test_editing_training_reruns_train_and_what_follows(built):
    with _edited(built / "vmaf_predictor" / "factory" / "s3_train.py"):
        assert _planned_rules(built, "all_stubs") == PER_CODEC_BUILD | {
            "hash",
            "all_stubs",
        }


def test_a_forbidden_op_fails_the_build_and_leaves_model_untouched(tmp_path):
    def forbid_log(config):
        config["allowlist"]["ops"].remove("Log")

    checkout = make_checkout(tmp_path / "c", codecs=("libx264",), edit=forbid_log)
    result = snakemake(checkout, "--cores", "2", "all_stubs")
    assert result.returncode != 0
    assert "libx264: the graph fails the libvmaf op allowlist" in result.stderr
    assert "op Log" in result.stderr
    assert not (checkout / "model" / "predictor_libx264.onnx").exists()


def test_a_bad_config_key_stops_before_any_job(tmp_path):
    checkout = make_checkout(tmp_path / "c", edit=lambda c: c.update(epochs=3))
    result = snakemake(checkout, "--cores", "2", "all_stubs")
    assert result.returncode == 2
    assert "error: config.yaml: unknown key epochs" in result.stderr
    assert not (checkout / "results").exists()


def test_a_config_error_names_config_yaml_and_the_key_without_a_traceback(tmp_path):
    def empty_range(config):
        config["codecs"]["libx264"]["quality_range"] = [51, 0]

    checkout = make_checkout(tmp_path / "c", edit=empty_range)
    result = snakemake(checkout, "--cores", "2", "all_stubs")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert errors == [
        "error: config.yaml: key codecs.libx264.quality_range: [51, 0] is empty; "
        "expected [low, high] with low <= high"
    ]
    assert "Traceback" not in result.stderr and "common.smk" not in result.stderr


def test_a_bad_command_line_value_is_named_as_config(tmp_path):
    checkout = make_checkout(tmp_path / "c")
    result = snakemake(checkout, "-n", "--config", "corpus_bad_rows=drop")
    assert result.returncode == 2
    assert "error: --config: key corpus_bad_rows: 'drop' is not one of" in result.stderr


def test_report_pages_compare_with_the_committed_sums_and_leave_model_alone(built):
    before = model_files(built / "model")
    result = snakemake(built, "--cores", "2", "report_pages")
    assert result.returncode == 0, result.stderr[-3000:]
    assert model_files(built / "model") == before
    overview = (built / "results" / "report" / "overview.html").read_text()
    assert overview.count("<span class='pass'>match</span>") == len(CODECS)
    for codec in CODECS:
        for page in ("vmaf_vs_crf.png", "holdout.png", "loss.png", "card.html"):
            assert (built / "results" / "report" / codec / page).stat().st_size > 0


def test_verify_passes_on_a_fresh_build_and_names_a_changed_model(built):
    passed = snakemake(built, "--cores", "2", "verify")
    assert passed.returncode == 0, passed.stderr[-3000:]
    assert "all 6 files match" in passed.stdout

    model = built / "model" / "predictor_av1_qsv.onnx"
    original = model.read_bytes()
    model.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    try:
        failed = snakemake(built, "--cores", "2", "verify")
    finally:
        model.write_bytes(original)
    assert failed.returncode != 0
    assert re.search(r"predictor_av1_qsv\.onnx .*MISMATCH", failed.stderr)
    assert "predictor_libx264.onnx" not in failed.stderr.split("differ from")[1]


def test_real_rows_flip_two_codecs_and_the_other_twelve_stay_committed(tmp_path):
    corpus = write_corpus(
        tmp_path / "real.jsonl",
        real_rows("libx264", range(10, 40)) + real_rows("libx265", range(15, 40)),
    )
    all_codecs = list(yaml.safe_load((ROOT / "config.yaml").read_text())["codecs"])
    checkout = make_checkout(tmp_path / "c", codecs=all_codecs)
    result = snakemake(
        checkout, "--cores", "2", "all_stubs", "--config", f"corpus={corpus}"
    )
    assert result.returncode == 0, result.stderr[-3000:]

    model = checkout / "model"
    for codec, rows in (("libx264", 30), ("libx265", 25)):
        card = (model / f"predictor_{codec}_card.md").read_text()
        assert f"`real-N={rows}`" in card and "DO NOT USE IN PRODUCTION" not in card
    stubs = [c for c in all_codecs if c not in ("libx264", "libx265")]
    for codec in stubs:
        for name in (f"predictor_{codec}.onnx", f"predictor_{codec}_card.md"):
            assert (model / name).read_bytes() == (ROOT / "model" / name).read_bytes()
    report = (checkout / "results" / "corpus_report.md").read_text()
    assert "| libx264 | 30 |" in report


@pytest.fixture
def real_built(tmp_path):
    """A two-codec checkout built with real rows for libx264 only."""
    root = tmp_path / "real"
    root.mkdir()
    corpus = write_corpus(root / "real.jsonl", real_rows("libx264", range(10, 40)))
    checkout = make_checkout(root / "c")
    result = snakemake(
        checkout, "--cores", "2", "all_stubs", "--config", f"corpus={corpus}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return checkout, corpus


def _jobs_run(checkout: Path, corpus: Path) -> set[tuple[str, str]]:
    """The per-codec jobs a real build with ``corpus`` runs. (A dry run cannot
    tell: which tables changed is known only after the split job.)"""
    return _codec_jobs(checkout, "all_stubs", "--config", f"corpus={corpus}")


def test_touching_or_rewriting_the_corpus_retrains_nothing(real_built):
    checkout, corpus = real_built
    corpus.write_text(corpus.read_text())
    assert _jobs_run(checkout, corpus) == set()


def test_editing_the_split_code_reruns_the_split_and_retrains_nothing(real_built):
    """An edit of the split's code reruns the split (a checkpoint its
    consumers reach through input functions); the same rows give the same
    table names, so no codec retrains."""
    checkout, corpus = real_built
    split = checkout / "vmaf_predictor" / "factory" / "s1_split.py"
    split.write_text(split.read_text() + "\n# edited\n")  # now: newer than outputs
    result = snakemake(
        checkout, "--cores", "2", "all_stubs", "--config", f"corpus={corpus}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    ran = set(re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):$", log, flags=re.M))
    assert "split" in ran
    assert ran & {"corpus", "train", "export", "publish"} == set()


def test_editing_one_codecs_rows_retrains_only_that_codec(real_built, tmp_path):
    checkout, _ = real_built
    edited = write_corpus(
        tmp_path / "edited.jsonl", real_rows("libx264", range(10, 40), offset=0.5)
    )
    jobs = _jobs_run(checkout, edited)
    assert {codec for _, codec in jobs} == {"libx264"}
    assert ("train", "libx264") in jobs


def test_adding_rows_for_a_stub_codec_flips_only_that_codec(real_built, tmp_path):
    checkout, _ = real_built
    more = write_corpus(
        tmp_path / "more.jsonl",
        real_rows("libx264", range(10, 40)) + real_rows("av1_qsv", range(20, 30)),
    )
    jobs = _jobs_run(checkout, more)
    assert {codec for _, codec in jobs} == {"av1_qsv"}
    assert {rule for rule, _ in jobs} == {"corpus", "train", "export", "publish"}


def test_a_dry_run_reads_no_corpus_and_writes_nothing(tmp_path):
    corpus = write_corpus(tmp_path / "real.jsonl", real_rows("libx264", [20, 30]))
    checkout = make_checkout(tmp_path / "c")
    result = snakemake(
        checkout, "--cores", "2", "-n", "all_stubs", "--config", f"corpus={corpus}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"^checkpoint split:", result.stdout, flags=re.M)
    assert not (checkout / "results").exists()


def test_a_bad_corpus_row_stops_before_any_job(tmp_path):
    corpus = tmp_path / "bad.jsonl"
    corpus.write_text(json.dumps(real_rows("libx264", [20])[0]) + "\n{oops\n")
    checkout = make_checkout(tmp_path / "c")
    result = snakemake(
        checkout, "--cores", "2", "all_stubs", "--config", f"corpus={corpus}"
    )
    assert result.returncode != 0
    assert f"{corpus}:2: not valid JSON" in result.stderr
    assert not (checkout / "results" / "train").exists()
    assert not (checkout / "results" / "corpus").exists()


def test_a_missing_corpus_path_stops_before_any_job(tmp_path):
    checkout = make_checkout(tmp_path / "c")
    missing = tmp_path / "nowhere.jsonl"
    result = snakemake(
        checkout, "--cores", "2", "all_stubs", "--config", f"corpus={missing}"
    )
    assert result.returncode == 2
    assert f"error: --config: key corpus: corpus {missing} does not exist" in (
        result.stderr
    )
    assert not (checkout / "results").exists()
