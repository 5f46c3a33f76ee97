import hashlib
import json
import re

import pytest

from vmaf_predictor import corpus
from vmaf_predictor.features import FEATURE_NAMES


def test_synthetic_corpus_is_identical_on_every_call(x264):
    first = corpus.table_bytes(corpus.synthetic_rows(x264, 100))
    assert first == corpus.table_bytes(corpus.synthetic_rows(x264, 100))


def test_seed_is_sha256_of_the_codec_name_mod_2_31():
    digest = hashlib.sha256(b"libx264").digest()
    assert corpus.codec_seed("libx264") == int.from_bytes(digest, "big") % 2**31


def test_each_codec_gets_its_own_rows(codecs):
    tables = {
        corpus.table_bytes(corpus.synthetic_rows(c, 100)) for c in codecs.values()
    }
    assert len(tables) == len(codecs)


def test_rows_follow_the_documented_recipe(x264):
    rows = corpus.synthetic_rows(x264, 100)
    assert len(rows) == 100
    for i, row in enumerate(rows):
        assert row["crf"] == int(row["crf"]) and 18 <= row["crf"] <= 45
        size = (int(row["width"]), int(row["height"]))
        assert size == corpus.RESOLUTIONS[i % 4]
        assert row["fps"] == corpus.FRAME_RATES[i % 3]
        duration = row["shot_length_frames"] / row["fps"]
        assert 4.0 - 1 / row["fps"] <= duration <= 10.0 + 1 / row["fps"]
        assert 0.0 <= row["vmaf"] <= 100.0


def test_bitrate_matches_resolution_crf_and_complexity_bounds(x264):
    import math

    for row in corpus.synthetic_rows(x264, 100):
        base = row["width"] * row["height"] / 1000 * math.exp(-(row["crf"] - 23) * 0.05)
        assert 0.6 * base - 1e-3 <= row["probe_bitrate_kbps"] <= 1.8 * base + 1e-3


def test_target_is_the_analytical_curve_plus_small_noise(x264):
    residuals = [
        row["vmaf"] - x264.analytical_vmaf(row["crf"], row["probe_bitrate_kbps"])
        for row in corpus.synthetic_rows(x264, 100)
    ]
    assert max(abs(r) for r in residuals) < 5 * corpus.NOISE_SIGMA
    assert 0.3 < (sum(r * r for r in residuals) / len(residuals)) ** 0.5 < 0.7


def test_every_row_has_the_14_features_and_the_target(x264):
    for row in corpus.synthetic_rows(x264, 10):
        assert tuple(row) == (*FEATURE_NAMES, "vmaf")


def test_stub_corpus_is_labelled_synthetic_stub_n_100(x264, tmp_path):
    info = corpus.build_corpus(x264, 100, None, tmp_path / "t.csv", tmp_path / "t.json")
    assert info.label == "synthetic-stub-N=100"
    assert corpus.read_info(tmp_path / "t.json") == info


def test_real_corpus_label_counts_rows():
    info = corpus.CorpusInfo("libx264", "real", 2592, "probe", "0" * 64)
    assert info.label == "real-N=2592"


def test_table_round_trips_exactly(x264, tmp_path):
    rows = corpus.synthetic_rows(x264, 20)
    corpus.build_corpus(x264, 20, None, tmp_path / "t.csv", tmp_path / "t.json")
    assert corpus.read_table(tmp_path / "t.csv") == rows


def _write_jsonl(path, records):
    import json

    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _phase_a_row(encoder="libx264", crf=23, vmaf=91.5, **extra):
    row = {
        "encoder": encoder,
        "crf": crf,
        "vmaf_score": vmaf,
        "bitrate_kbps": 4200.0,
        "framerate": 30.0,
        "duration_s": 5.0,
        "width": 1920,
        "height": 1080,
        "exit_status": 0,
    }
    row.update(extra)
    return row


def test_real_rows_switch_the_codec_to_real_n(x264, tmp_path):
    source = _write_jsonl(
        tmp_path / "c.jsonl", [_phase_a_row(crf=c) for c in (20, 25, 30)]
    )
    info = corpus.build_corpus(x264, 100, source, tmp_path / "t.csv", tmp_path / "i")
    assert (info.label, info.features) == ("real-N=3", "stand-in")


def test_a_codec_without_real_rows_falls_back_to_its_stub(codecs, tmp_path):
    source = _write_jsonl(tmp_path / "c.jsonl", [_phase_a_row(), _phase_a_row()])
    info = corpus.build_corpus(
        codecs["av1_qsv"], 100, source, tmp_path / "t.csv", tmp_path / "i"
    )
    assert info.label == "synthetic-stub-N=100"
    stub = corpus.table_bytes(corpus.synthetic_rows(codecs["av1_qsv"], 100))
    assert (tmp_path / "t.csv").read_bytes() == stub


def test_aliases_failed_encodes_and_missing_scores(x264, tmp_path):
    records = [
        {"codec": "libx264", "q": 22, "vmaf": 93.0, "actual_kbps": 5000.0,
         "framerate": 24, "duration_s": 4, "width": 1280, "height": 720},
        _phase_a_row(exit_status=1),
        _phase_a_row(vmaf=None),
        _phase_a_row(encoder="libvpx-vp9"),
    ]  # fmt: skip
    rows, probed = corpus.real_rows(x264, [_write_jsonl(tmp_path / "c.jsonl", records)])
    assert len(rows) == 1 and not probed
    assert (rows[0]["crf"], rows[0]["vmaf"], rows[0]["width"]) == (22, 93.0, 1280)


def test_rows_with_probe_statistics_use_them(x264, tmp_path):
    probe = {name: 1.5 for name in corpus.PROBE_FEATURES}
    source = _write_jsonl(tmp_path / "c.jsonl", [_phase_a_row(**probe)] * 2)
    rows, probed = corpus.real_rows(x264, [source])
    assert probed and rows[0]["saliency_mean"] == 1.5


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        (
            '{"encoder": "libx264", "crf": "23", "vmaf_score": 90}',
            "crf must be a number",
        ),
        (
            '{"encoder": "libx264", "crf": 99, "vmaf_score": 90}',
            "outside libx264's range",
        ),
        ('{"encoder": "libx264", "crf": 23, "vmaf_score": 120}', "outside [0, 100]"),
    ],
)
def test_a_bad_row_is_named_by_file_and_line(x264, tmp_path, line, reason):
    source = tmp_path / "c.jsonl"
    source.write_text(json.dumps(_phase_a_row()) + "\n" + line + "\n")
    with pytest.raises(
        ValueError, match=re.escape(f"{source}:2: ") + ".*" + re.escape(reason)
    ):
        corpus.real_rows(x264, [source])


def test_a_directory_corpus_reads_its_shards_in_sorted_order(tmp_path):
    (tmp_path / "b").mkdir()
    for name in ("b/2.jsonl", "a.jsonl", "b/1.jsonl"):
        (tmp_path / name).write_text("")
    assert [
        p.relative_to(tmp_path).as_posix() for p in corpus.corpus_files(tmp_path)
    ] == [
        "a.jsonl",
        "b/1.jsonl",
        "b/2.jsonl",
    ]


def test_a_missing_corpus_or_an_empty_directory_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        corpus.corpus_files(tmp_path / "nope.jsonl")
    with pytest.raises(FileNotFoundError, match=r"no \*\.jsonl shards"):
        corpus.corpus_files(tmp_path)
