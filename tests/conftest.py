"""Shared fixtures: the real config, one trained codec, its exported model."""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
from pathlib import Path

import pytest
import yaml

from vmaf_predictor import registry
from vmaf_predictor.factory import s2_corpus as corpus
from vmaf_predictor.factory import s4_export as export
from vmaf_predictor.factory.network import TrainedModel, TrainSettings

ROOT = Path(__file__).resolve().parents[1]

# No test may hang a CI run: one that takes longer than this (setup, call and
# teardown together; a module's shared fixture counts for its first test)
# fails, after printing every thread's stack. The slowest test takes about a
# tenth of it on the 2-core CI machine.
TEST_TIME_LIMIT_S = int(os.environ.get("VMAF_PREDICTOR_TEST_TIME_LIMIT_S", "900"))


class TimeLimitExceeded(Exception):
    """A test ran longer than TEST_TIME_LIMIT_S."""


def _time_limit_reached(signum, frame):
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    raise TimeLimitExceeded(
        f"the test ran longer than {TEST_TIME_LIMIT_S} s "
        "(VMAF_PREDICTOR_TEST_TIME_LIMIT_S); stacks above"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    previous = signal.signal(signal.SIGALRM, _time_limit_reached)
    signal.alarm(TEST_TIME_LIMIT_S)
    try:
        return (yield)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


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
    from vmaf_predictor.factory import s3_train as train

    return train.train("libx264", corpus.synthetic_columns(x264, 100), settings, x264)


@pytest.fixture(scope="session")
def onnx_x264(trained_x264) -> bytes:
    return export.build_model(trained_x264, opset=18).SerializeToString()
