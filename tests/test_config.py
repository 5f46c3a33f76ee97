import copy
from pathlib import Path

import pytest

from vmaf_predictor.build import config as workflow_config

SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"


def _validate(cfg):
    workflow_config.validate(cfg, SCHEMA)
    return cfg


def test_the_shipped_config_is_valid_and_gets_defaults(config):
    cfg = _validate(copy.deepcopy(config))
    assert cfg["corpus"] is None and cfg["train_overrides"] == {}


def test_an_unknown_key_is_named(config):
    cfg = copy.deepcopy(config)
    cfg["train"]["epocs"] = 10
    with pytest.raises(workflow_config.ConfigError, match=r"unknown key train\.epocs"):
        _validate(cfg)


def test_an_unknown_top_level_key_is_named(config):
    cfg = {**copy.deepcopy(config), "opsett": 17}
    with pytest.raises(workflow_config.ConfigError, match="unknown key opsett"):
        _validate(cfg)


def test_a_wrong_type_is_named_with_its_key_path(config):
    cfg = copy.deepcopy(config)
    cfg["train"]["epochs"] = "200"
    with pytest.raises(workflow_config.ConfigError, match=r"key train\.epochs: '200'"):
        _validate(cfg)


def test_a_wrong_codec_entry_is_named(config):
    cfg = copy.deepcopy(config)
    cfg["codecs"]["libx264"]["quality_range"] = [0]
    with pytest.raises(workflow_config.ConfigError, match=r"codecs\.libx264\.quality"):
        _validate(cfg)


def test_an_override_for_an_unknown_codec_is_named(config):
    cfg = {**copy.deepcopy(config), "train_overrides": {"libx266": {"epochs": 5}}}
    with pytest.raises(workflow_config.ConfigError, match=r"train_overrides\.libx266"):
        _validate(cfg)


def test_overrides_apply_to_their_codec_only(config):
    cfg = _validate(
        {**copy.deepcopy(config), "train_overrides": {"libx264": {"epochs": 5}}}
    )
    assert workflow_config.train_settings(cfg, "libx264")["epochs"] == 5
    shared = config["train"]["epochs"]
    assert workflow_config.train_settings(cfg, "libx265")["epochs"] == shared != 5
