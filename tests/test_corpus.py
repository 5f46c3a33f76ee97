import hashlib

import pyarrow as pa
import pyarrow.parquet as pq
from fresh_process import python_output

from vmaf_predictor.factory import s2_corpus as corpus
from vmaf_predictor.runtime.features import FEATURE_NAMES


def _digest(table: corpus.Columns) -> str:
    return hashlib.sha256(corpus.table_bytes(table)).hexdigest()


def test_synthetic_corpus_is_the_same_in_another_process(x264):
    here = _digest(corpus.synthetic_columns(x264, 100))
    there = python_output("""
        import hashlib, yaml
        from vmaf_predictor.factory import s2_corpus as corpus
        from vmaf_predictor.registry import registry_from_config
        codec = registry_from_config(yaml.safe_load(open("config.yaml")))["libx264"]
        table = corpus.synthetic_columns(codec, 100)
        print(hashlib.sha256(corpus.table_bytes(table)).hexdigest())
    """)
    assert here == there


def test_seed_is_sha256_of_the_codec_name_mod_2_31():
    digest = hashlib.sha256(b"libx264").digest()
    assert corpus.codec_seed("libx264") == int.from_bytes(digest, "big") % 2**31


def test_each_codec_gets_its_own_rows(codecs):
    digests = {_digest(corpus.synthetic_columns(c, 100)) for c in codecs.values()}
    assert len(digests) == len(codecs)


def test_rows_follow_the_documented_recipe(codecs):
    h264_qsv = codecs["h264_qsv"]  # quality range 1..51
    rows = corpus.synthetic_rows(h264_qsv, 100)
    assert len(rows) == 100
    for i, row in enumerate(rows):
        assert row["crf"] == int(row["crf"]) and 1 <= row["crf"] <= 51
        size = (int(row["width"]), int(row["height"]))
        assert size == corpus.RESOLUTIONS[i % 4]
        assert row["fps"] == corpus.FRAME_RATES[i % 3]
        duration = row["shot_length_frames"] / row["fps"]
        assert 4.0 - 1 / row["fps"] <= duration <= 10.0 + 1 / row["fps"]
        assert 0.0 <= row["vmaf"] <= 100.0
    assert {row["crf"] for row in rows} >= {2.0, 50.0}  # the whole range


def test_the_probe_runs_at_a_fixed_quality_so_its_bitrate_ignores_crf(x264):
    low, high = corpus.PROBE_BPP
    for row in corpus.synthetic_rows(x264, 100):
        if row["probe_bitrate_kbps"] == 0.0:
            continue
        pixels = row["width"] * row["height"] * row["fps"]
        bpp = row["probe_bitrate_kbps"] * 1000 / pixels
        assert low - 1e-6 <= bpp <= high + 1e-6
        frame = row["probe_bitrate_kbps"] * 1000 / 8 / row["fps"]
        assert 2 * frame - 0.1 <= row["probe_i_frame_avg_bytes"] <= 8 * frame + 0.1
        assert row["probe_b_frame_avg_bytes"] <= row["probe_p_frame_avg_bytes"]


def test_a_tenth_of_the_shots_have_no_probe_and_send_it_as_0(x264):
    rows = corpus.synthetic_rows(x264, 100)
    unprobed = [r for r in rows if r["probe_bitrate_kbps"] == 0.0]
    assert 4 <= len(unprobed) <= 16
    for row in unprobed:
        assert all(row[name] == 0.0 for name in corpus.PROBE_FEATURES)
    assert any(
        r["probe_b_frame_avg_bytes"] == 0.0 < r["probe_bitrate_kbps"] for r in rows
    )


def test_luma_figures_follow_the_consumers_definitions(x264):
    for row in corpus.synthetic_rows(x264, 100):
        assert 16 <= row["y_avg"] <= 235 and 16 <= row["y_var"] <= 235
        assert abs(row["y_var"] - row["y_avg"]) <= 20.01  # (YHIGH+YLOW)/2 proxy
        assert 0 < row["saliency_mean"] < 1 and 0 < row["saliency_var"] < 0.1


def test_target_is_the_analytical_curve_plus_small_noise(x264):
    residuals = [
        row["vmaf"] - x264.analytical_vmaf(row["crf"], row["probe_bitrate_kbps"])
        for row in corpus.synthetic_rows(x264, 100)
    ]
    assert max(abs(r) for r in residuals) < 5 * corpus.NOISE_SIGMA
    assert 0.3 < (sum(r * r for r in residuals) / len(residuals)) ** 0.5 < 0.7


def test_the_table_has_the_14_features_the_target_and_the_source(x264):
    table = corpus.synthetic_columns(x264, 10)
    assert tuple(table) == (*FEATURE_NAMES, "vmaf", "src")


def _run_stage(tmp_path, config, real=None):
    """The stage as its rule runs it: ``real`` is the split's table, or []."""
    from types import SimpleNamespace as Files

    out = Files(table=tmp_path / "t.parquet", info=tmp_path / "t.json")
    params = Files(
        codec=config["codecs"]["libx264"], synthetic_rows=100, real_features="probe"
    )
    corpus.run(Files(real=str(real) if real else []), out, params, "libx264")
    return out


def test_stub_corpus_is_labelled_synthetic_stub_n_100(tmp_path, config):
    out = _run_stage(tmp_path, config)
    info = corpus.read_info(out.info)
    assert (info.label, info.features) == ("synthetic-stub-N=100", "synthetic")


def test_the_table_is_parquet_that_pyarrow_reads_as_written(x264, tmp_path, config):
    out = _run_stage(tmp_path, config)
    table = pq.read_table(out.table)
    assert table.to_pydict() == corpus.synthetic_columns(x264, 100)
    assert table.schema.field("crf").type == "double"


def test_the_info_digest_is_the_sha256_of_the_canonical_text(tmp_path, config):
    out = _run_stage(tmp_path, config)
    assert corpus.read_info(out.info).sha256 == _digest(corpus.read_table(out.table))


def test_a_real_table_makes_a_real_n_corpus(x264, tmp_path, config):
    real = corpus.synthetic_columns(x264, 7) | {"src": ["clip.y4m"] * 7}
    pq.write_table(pa.table(real), tmp_path / "real.parquet")
    out = _run_stage(tmp_path, config, real=tmp_path / "real.parquet")
    assert corpus.read_info(out.info).label == "real-N=7"
    assert corpus.read_columns(out.table) == real
