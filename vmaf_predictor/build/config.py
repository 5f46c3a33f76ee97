"""The workflow config: schema validation with messages that name the key."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from vmaf_predictor.config_file import fill_defaults


class ConfigError(ValueError):
    """config.yaml (or --config) has a wrong key, type or value."""


def _key_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "(top level)"


def _describe(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        known = set(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - known)
        parent = _key_path(error)
        keys = [k if parent == "(top level)" else f"{parent}.{k}" for k in unknown]
        allowed = ", ".join(sorted(known)) or "none"
        return f"unknown key {', '.join(keys)} (allowed here: {allowed})"
    return f"key {_key_path(error)}: {error.message}"


def validate(config: MutableMapping[str, Any], schema_path: Path) -> None:
    """Check ``config`` against the schema and fill in its defaults.

    Raises :class:`ConfigError` listing every problem, each naming its key.
    """
    schema = yaml.safe_load(Path(schema_path).read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.path))
    if errors:
        lines = "\n  ".join(_describe(error) for error in errors)
        raise ConfigError(f"invalid workflow config:\n  {lines}")
    fill_defaults(config, schema)
    for codec in config["train_overrides"]:
        if codec not in config["codecs"]:
            raise ConfigError(
                f"key train_overrides.{codec}: not a codec of the registry"
            )
    problems = sweep_problems(config)
    if problems:
        raise ConfigError("invalid workflow config:\n  " + "\n  ".join(problems))


def ladder(config: Mapping[str, Any], codec: str) -> list[int]:
    """The quality values swept for ``codec`` (``sweep_ladder``), ascending."""
    spec = config["sweep_ladder"][codec]
    if isinstance(spec, Mapping):
        first, last, step = (int(spec[key]) for key in ("first", "last", "step"))
        return list(range(first, last + 1, max(step, 1)))
    return sorted({int(value) for value in spec})


def sweep_problems(config: Mapping[str, Any]) -> list[str]:
    """What stops the sweep's settings from working, each naming its key:
    a codec outside the registry or without software encoder (the hardware
    ones say what they need), a ladder outside the codec's quality range."""
    from vmaf_predictor.runtime.encoders import SOFTWARE_CODECS, hardware_problem

    problems = []
    for codec in config["sweep_codecs"]:
        if codec not in config["codecs"]:
            problems.append(
                f"key sweep_codecs: {codec} is not a codec of the registry "
                f"(known: {', '.join(config['codecs'])})"
            )
        elif codec not in SOFTWARE_CODECS:
            problems.append(f"key sweep_codecs: {hardware_problem(codec)}")
    for codec, spec in config["sweep_ladder"].items():
        if codec not in config["codecs"]:
            problems.append(f"key sweep_ladder.{codec}: not a codec of the registry")
            continue
        low, high = config["codecs"][codec]["quality_range"]
        values = ladder(config, codec)
        if not values:
            problems.append(f"key sweep_ladder.{codec}: no quality value in {spec}")
        outside = [v for v in values if not low <= v <= high]
        if outside:
            problems.append(
                f"key sweep_ladder.{codec}: {outside} outside the codec's "
                f"quality_range [{low}, {high}]"
            )
    return problems


def train_settings(config: Mapping[str, Any], codec: str) -> dict[str, Any]:
    """The training settings of one codec: shared settings plus its overrides."""
    overrides = config.get("train_overrides", {}).get(codec, {})
    return {**config["train"], **overrides}
