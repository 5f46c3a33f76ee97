"""The committed model/ as a consumer sees it: 14 loadable, bounded models."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import yaml

from vmaf_predictor import registry
from vmaf_predictor.factory import s2_corpus as corpus
from vmaf_predictor.factory import s6_validate as validate
from vmaf_predictor.factory import s8_hash as hashes
from vmaf_predictor.names import model_file_name
from vmaf_predictor.runtime.session import open_session

MODEL_DIR = Path(__file__).resolve().parents[1] / "model"
CONFIG = yaml.safe_load((MODEL_DIR.parent / "config.yaml").read_text())
CODECS = list(CONFIG["codecs"])


def test_model_dir_holds_exactly_a_model_and_a_card_per_codec_and_the_sums():
    expected = {"SHA256SUMS", "PROVENANCE.json"}
    expected |= {f"predictor_{c}.onnx" for c in CODECS}
    expected |= {f"predictor_{c}_card.md" for c in CODECS}
    assert {p.name for p in MODEL_DIR.iterdir()} == expected


def test_committed_files_match_their_sums():
    sums = hashes.parse_sums((MODEL_DIR / "SHA256SUMS").read_text())
    assert list(sums) == sorted(sums)
    for name, digest in sums.items():
        assert hashes.sha256_file(MODEL_DIR / name) == digest, name


def test_provenance_names_the_corpus_of_every_model():
    provenance = hashes.read_provenance(MODEL_DIR)
    assert sorted(provenance) == sorted(f"predictor_{c}.onnx" for c in CODECS)
    for codec in CODECS:
        entry = provenance[f"predictor_{codec}.onnx"]
        card = (MODEL_DIR / f"predictor_{codec}_card.md").read_text()
        assert f"`{entry['corpus']}`" in card and entry["corpus_sha256"] in card


def _inputs(codec: registry.Codec) -> np.ndarray:
    """The training distribution, then extremes a caller might send."""
    rows = [
        [row[name] for name in corpus.FEATURE_NAMES]
        for row in corpus.synthetic_rows(codec, 100)
    ]
    low, high = codec.quality_min, codec.quality_max
    extremes = [
        [0.0] * 14,
        [high, 1e6, 1e7, 1e7, 1e7, 1, 1, 100, 255, 1e4, 1e5, 240, 7680, 4320],
        [low, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 16, 16],
    ]
    for crf, fps in itertools.product((low, high), (1, 240)):
        extremes.append(
            [crf, 3000, 8e4, 1.6e4, 8e3, 0.5, 0.05, 6, 110, 2000, 120, fps, 7680, 4320]
        )
    return np.asarray(rows + extremes, dtype=np.float32)


@pytest.mark.parametrize("codec_name", CODECS)
def test_model_loads_and_predicts_finite_vmaf_in_0_100(codec_name):
    codec = registry.codec_from_config(codec_name, CONFIG["codecs"][codec_name])
    session = ort.InferenceSession(
        str(MODEL_DIR / f"predictor_{codec_name}.onnx"),
        providers=["CPUExecutionProvider"],
    )
    assert [i.name for i in session.get_inputs()] == ["input"]
    (vmaf,) = session.run(["vmaf"], {"input": _inputs(codec)})
    assert vmaf.shape == (len(_inputs(codec)), 1)
    assert np.all(np.isfinite(vmaf)) and vmaf.min() >= 0.0 and vmaf.max() <= 100.0


@pytest.mark.parametrize("codec_name", CODECS)
def test_card_names_the_model_hash_and_warns_exactly_when_a_stub(codec_name):
    card = (MODEL_DIR / f"predictor_{codec_name}_card.md").read_text()
    digest = hashes.sha256_file(MODEL_DIR / f"predictor_{codec_name}.onnx")
    assert f"`{digest}`" in card
    is_stub = "`synthetic-stub-N=" in card
    assert is_stub != ("`real-N=" in card)
    assert ("DO NOT USE IN PRODUCTION" in card) == is_stub


@pytest.mark.parametrize("codec_name", CODECS)
def test_predicted_vmaf_never_rises_as_crf_rises(codec_name):
    """256 feature vectors x every integer and half-integer quality value of
    the codec's whole range, zero tolerance."""
    codec = registry.codec_from_config(codec_name, CONFIG["codecs"][codec_name])
    session = open_session(MODEL_DIR / model_file_name(codec_name))
    rows = [
        [r[n] for n in corpus.FEATURE_NAMES] for r in corpus.synthetic_rows(codec, 256)
    ]
    assert validate.check_monotone(session, codec, rows) <= 0.0
