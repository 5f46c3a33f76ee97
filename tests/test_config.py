import copy
from pathlib import Path

import pytest

from vmaf_predictor import config_file as workflow_config

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


def test_an_empty_quality_range_is_named(config):
    cfg = copy.deepcopy(config)
    cfg["codecs"]["libx264"]["quality_range"] = [51, 0]
    with pytest.raises(
        workflow_config.ConfigError,
        match=r"^config: key codecs\.libx264\.quality_range: \[51, 0\] is empty; "
        r"expected \[low, high\] with low <= high$",
    ):
        _validate(cfg)


def test_a_default_outside_the_quality_range_is_named(config):
    cfg = copy.deepcopy(config)
    cfg["codecs"]["libx265"]["quality_default"] = 41
    with pytest.raises(
        workflow_config.ConfigError,
        match=r"key codecs\.libx265\.quality_default: 41 is outside quality_range "
        r"\[15, 40\]",
    ):
        _validate(cfg)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_number_that_is_not_finite_is_named(config, value):
    cfg = copy.deepcopy(config)
    cfg["train"]["learning_rate"] = value
    with pytest.raises(
        workflow_config.ConfigError,
        match=rf"^config: key train\.learning_rate: {value} is not a finite number$",
    ):
        _validate(cfg)


def test_a_quality_range_that_is_not_finite_is_named(config):
    cfg = copy.deepcopy(config)
    cfg["codecs"]["libx264"]["quality_range"] = [0, float("inf")]
    with pytest.raises(workflow_config.ConfigError, match=r"quality_range\.1: inf"):
        _validate(cfg)


def test_every_problem_is_one_line(config):
    cfg = copy.deepcopy(config)
    cfg["train"]["epochs"] = "200"
    cfg["opsett"] = 17
    with pytest.raises(workflow_config.ConfigError) as caught:
        _validate(cfg)
    assert len(str(caught.value).splitlines()) == 2


def _source(tmp_path, overrides):
    override = tmp_path / "override.yaml"
    override.write_text("train: {epochs: 5}\n")
    return workflow_config.key_source(overrides, [override])


def test_a_key_from_the_command_line_is_named_as_config(tmp_path):
    source = _source(tmp_path, {"corpus": "x.jsonl"})
    assert source(("corpus",)) == "--config"


def test_a_key_from_a_configfile_names_that_file(tmp_path):
    source = _source(tmp_path, {})
    assert source(("train", "epochs")) == str(tmp_path / "override.yaml")


def test_any_other_key_names_config_yaml(tmp_path):
    source = _source(tmp_path, {})
    assert source(("train", "seed")) == "config.yaml"
    assert source(("codecs", "libx264", "quality_range")) == "config.yaml"


def test_shots_get_their_defaults_and_take_digits_from_the_command_line(config):
    cfg = copy.deepcopy(config)
    cfg["sources"] = "clips"
    cfg["shots"] = {"threshold": "12.5", "max_frames": "96"}
    _validate(cfg)
    assert workflow_config.shot_settings(cfg) == {
        "threshold": 12.5, "min_frames": 24, "max_frames": 96,
    }  # fmt: skip


def test_a_maximum_shot_length_under_twice_the_minimum_is_named(config):
    cfg = copy.deepcopy(config)
    cfg["sources"] = "clips"
    cfg["shots"] = {"min_frames": 24, "max_frames": 40}
    with pytest.raises(workflow_config.ConfigError) as error:
        _validate(cfg)
    assert "key shots.max_frames: 40 is less than twice shots.min_frames (24)" in str(
        error.value
    )
