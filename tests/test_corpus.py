import hashlib

import numpy as np

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
    info = corpus.build_corpus(
        x264, 100, None, "stand-in", tmp_path / "t.csv", tmp_path / "t.json"
    )
    assert info.label == "synthetic-stub-N=100"
    assert corpus.read_info(tmp_path / "t.json") == info


def test_real_corpus_label_counts_rows():
    info = corpus.CorpusInfo("libx264", "real", 2592, "probe", "0" * 64)
    assert info.label == "real-N=2592"


def test_table_round_trips_exactly(x264, tmp_path):
    rows = corpus.synthetic_rows(x264, 20)
    corpus.build_corpus(
        x264, 20, None, "stand-in", tmp_path / "t.csv", tmp_path / "t.json"
    )
    assert corpus.read_table(tmp_path / "t.csv") == rows


def test_a_real_table_makes_a_real_n_corpus(x264, tmp_path):
    rows = corpus.synthetic_rows(x264, 7)
    split_table = [[row[name] for name in corpus.COLUMNS] for row in rows]
    np.save(tmp_path / "real.npy", np.array(split_table))
    info = corpus.build_corpus(
        x264, 100, tmp_path / "real.npy", "probe", tmp_path / "t.csv", tmp_path / "i"
    )
    assert (info.label, info.features) == ("real-N=7", "probe")
    assert corpus.read_table(tmp_path / "t.csv") == rows
