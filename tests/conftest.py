"""Shared fixtures: the real config, one trained codec, its exported model."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from vmaf_predictor import registry
from vmaf_predictor.build import s2_corpus as corpus
from vmaf_predictor.build import s4_export as export
from vmaf_predictor.build.network import TrainedModel, TrainSettings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def config() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text())


@pytest.fixture(scope="session")
def codecs(config) -> dict[str, registry.Codec]:
    return registry.registry_from_config(config)


@pytest.fixture(scope="session")
def x264(codecs) -> registry.Codec:
    return codecs["libx264"]


@pytest.fixture(scope="session")
def settings(config) -> TrainSettings:
    """The training settings of config.yaml (their one home)."""
    return TrainSettings(**config["train"])


@pytest.fixture(scope="session")
def trained_x264(x264, settings) -> TrainedModel:
    from vmaf_predictor.build import s3_train as train

    return train.train("libx264", corpus.synthetic_table(x264, 100), settings, x264)


@pytest.fixture(scope="session")
def onnx_x264(trained_x264) -> bytes:
    return export.build_model(trained_x264, opset=18).SerializeToString()
