"""The workflow config: schema validation with messages that name the key."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml


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
    for key, spec in schema["properties"].items():
        if "default" in spec:
            config.setdefault(key, spec["default"])
    for codec in config["train_overrides"]:
        if codec not in config["codecs"]:
            raise ConfigError(
                f"key train_overrides.{codec}: not a codec of the registry"
            )


def train_settings(config: Mapping[str, Any], codec: str) -> dict[str, Any]:
    """The training settings of one codec: shared settings plus its overrides."""
    overrides = config.get("train_overrides", {}).get(codec, {})
    return {**config["train"], **overrides}
