"""The workflow config: schema validation with messages that name where the
key came from (config.yaml, a --configfile, or --config) and the key."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import yaml

Key = tuple[Any, ...]
Source = Callable[[Key], str]


class ConfigError(ValueError):
    """config.yaml (or --config) has a wrong key, type or value.

    One line per problem, each beginning with where the key was set and
    naming the key.
    """


def _dotted(path: Key) -> str:
    return ".".join(str(part) for part in path) or "(top level)"


def _problems(error: jsonschema.ValidationError) -> tuple[Key, str]:
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties":
        known = set(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - known)
        allowed = ", ".join(sorted(known)) or "none"
        keys = ", ".join(_dotted((*path, key)) for key in unknown)
        return (*path, unknown[0]), f"unknown key {keys} (allowed here: {allowed})"
    return path, f"key {_dotted(path)}: {error.message}"


def _non_finite(value: Any, path: Key = ()) -> Iterator[tuple[Key, float]]:
    """Every NaN or infinity (YAML's .nan, .inf) in the config."""
    if isinstance(value, float) and not math.isfinite(value):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _non_finite(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _non_finite(item, (*path, index))


def _codec_problems(codecs: Mapping[str, Any]) -> Iterator[tuple[Key, str]]:
    """Quality ranges the schema cannot check: low <= default <= high."""
    for name, entry in codecs.items():
        low, high = entry["quality_range"]
        path = ("codecs", name, "quality_range")
        if low > high:
            yield (
                path,
                (
                    f"key {_dotted(path)}: [{low:g}, {high:g}] is empty; expected "
                    "[low, high] with low <= high"
                ),
            )
        elif not low <= entry["quality_default"] <= high:
            path = ("codecs", name, "quality_default")
            yield (
                path,
                (
                    f"key {_dotted(path)}: {entry['quality_default']:g} is outside "
                    f"quality_range [{low:g}, {high:g}]"
                ),
            )


def key_source(
    overrides: Mapping[str, Any],
    configfiles: Sequence[str | Path] = (),
    default: str = "config.yaml",
) -> Source:
    """Where a key was set: ``--config`` (``overrides``, top-level keys
    only, as Snakemake's --config sets them), else the last of
    ``configfiles`` (--configfile) that sets it, else ``default``."""
    loaded = []
    for path in configfiles:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            data = None
        loaded.append((str(path), data))

    def sets(data: Any, path: Key) -> bool:
        for part in path:
            if not isinstance(data, Mapping) or part not in data:
                return False
            data = data[part]
        return bool(path)

    def source(path: Key) -> str:
        if path and path[0] in overrides:
            return "--config"
        for name, data in reversed(loaded):
            if sets(data, path):
                return name
        return default

    return source


def validate(
    config: MutableMapping[str, Any],
    schema_path: Path,
    source: Source = lambda path: "config",
) -> None:
    """Check ``config`` against the schema and fill in its defaults.

    Raises :class:`ConfigError` listing every problem, one a line, each
    beginning with ``source(key)`` and naming the key.
    """
    schema = yaml.safe_load(Path(schema_path).read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.path))
    problems = [
        (path, f"key {_dotted(path)}: {value} is not a finite number")
        for path, value in _non_finite(config)
    ]
    reported = {path for path, _ in problems}
    problems += [p for p in map(_problems, errors) if p[0] not in reported]
    if not problems:
        problems += _codec_problems(config["codecs"])
        for codec in config.get("train_overrides", {}):
            if codec not in config["codecs"]:
                path = ("train_overrides", codec)
                problems.append(
                    (path, f"key {_dotted(path)}: not a codec of the registry")
                )
    if problems:
        raise ConfigError(
            "\n".join(f"{source(path)}: {text}" for path, text in problems)
        )
    for key, spec in schema["properties"].items():
        if "default" in spec:
            config.setdefault(key, spec["default"])


def train_settings(config: Mapping[str, Any], codec: str) -> dict[str, Any]:
    """The training settings of one codec: shared settings plus its overrides."""
    overrides = config.get("train_overrides", {}).get(codec, {})
    return {**config["train"], **overrides}
