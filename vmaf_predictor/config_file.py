"""config.yaml with the defaults of its schema, for the workflow and the runtime:
validation with messages that name where the key came from (config.yaml, a
--configfile, or --config) and the key.

The schema (``schemas/config.schema.yaml``) is the one home of every default,
nested ones too (the sweep's per-codec settings): the workflow validates and
fills the config it was given; the runtime (``python -m vmaf_predictor``)
reads the checkout's config.yaml the same way, so it measures a clip with the
settings the sweep used.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config.yaml"
SCHEMA = ROOT / "schemas" / "config.schema.yaml"


def fill_defaults(config: MutableMapping[str, Any], schema: dict[str, Any]) -> None:
    """Set every absent key that has a ``default`` in ``schema``, at any
    depth: a key given as an object gets the defaults of its own keys."""
    for key, spec in schema.get("properties", {}).items():
        if key not in config and "default" in spec:
            config[key] = copy.deepcopy(spec["default"])
        if isinstance(config.get(key), MutableMapping) and "properties" in spec:
            fill_defaults(config[key], spec)


def load(config_path: Path = CONFIG, schema_path: Path = SCHEMA) -> dict[str, Any]:
    """A config file, validated, with the schema's defaults filled in."""
    config = yaml.safe_load(Path(config_path).read_text(encoding="utf-8")) or {}
    validate(config, schema_path)
    return config


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
        fill_defaults(config, schema)
        problems += _codec_problems(config["codecs"])
        for codec in config.get("train_overrides", {}):
            if codec not in config["codecs"]:
                path = ("train_overrides", codec)
                problems.append(
                    (path, f"key {_dotted(path)}: not a codec of the registry")
                )
        problems += sweep_problems(config)
    if problems:
        raise ConfigError(
            "\n".join(f"{source(path)}: {text}" for path, text in problems)
        )


def ladder(config: Mapping[str, Any], codec: str) -> list[int]:
    """The quality values swept for ``codec`` (``sweep_ladder``), ascending."""
    spec = config["sweep_ladder"][codec]
    if isinstance(spec, Mapping):
        first, last, step = (int(spec[key]) for key in ("first", "last", "step"))
        return list(range(first, last + 1, max(step, 1)))
    return sorted({int(value) for value in spec})


def sweep_problems(config: Mapping[str, Any]) -> list[tuple[Key, str]]:
    """With clips to sweep (``sources``), what stops the sweep's settings
    from working, each naming its key: a swept codec outside the registry or
    without a software encoder (a hardware one says what it needs), a ladder
    of another codec, a ladder outside its codec's quality range, shots
    whose maximum length is under twice their minimum."""
    from vmaf_predictor.runtime.encoders import SOFTWARE_CODECS, hardware_problem

    if not config.get("sources"):
        return []
    problems: list[tuple[Key, str]] = []
    low, high = (int(config["shots"][key]) for key in ("min_frames", "max_frames"))
    if low < 1 or high < 2 * low:
        text = (
            f"key shots.max_frames: {high} is less than twice shots.min_frames "
            f"({low}), or min_frames is 0: a take cut to max_frames would leave "
            "pieces shorter than min_frames"
        )
        problems.append((("shots", "max_frames"), text))
    for codec in config["sweep_codecs"]:
        if codec not in config["codecs"]:
            text = (
                f"key sweep_codecs: {codec} is not a codec of the registry "
                f"(known: {', '.join(config['codecs'])})"
            )
            problems.append((("sweep_codecs",), text))
        elif codec not in SOFTWARE_CODECS:
            text = f"key sweep_codecs: {hardware_problem(codec)}"
            problems.append((("sweep_codecs",), text))
        elif codec not in config["sweep_ladder"]:
            text = f"key sweep_ladder: no ladder for {codec}"
            problems.append((("sweep_ladder",), text))
    for codec, spec in config["sweep_ladder"].items():
        path = ("sweep_ladder", codec)
        if codec not in SOFTWARE_CODECS:
            text = (
                f"key {_dotted(path)}: not one of the swept encoders "
                f"({', '.join(SOFTWARE_CODECS)})"
            )
            problems.append((path, text))
            continue
        if codec not in config["sweep_codecs"] or codec not in config["codecs"]:
            continue
        low, high = config["codecs"][codec]["quality_range"]
        values = ladder(config, codec)
        if not values:
            problems.append((path, f"key {_dotted(path)}: no quality value in {spec}"))
        outside = [v for v in values if not low <= v <= high]
        if outside:
            text = (
                f"key {_dotted(path)}: {outside} outside the codec's "
                f"quality_range [{low:g}, {high:g}]"
            )
            problems.append((path, text))
    return problems


def shot_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """``shots`` as numbers (--config passes nested values as strings), so
    a job's params change only when a value does."""
    shots = config["shots"]
    return {
        "threshold": float(shots["threshold"]),
        "min_frames": int(shots["min_frames"]),
        "max_frames": int(shots["max_frames"]),
    }


def train_settings(config: Mapping[str, Any], codec: str) -> dict[str, Any]:
    """The training settings of one codec: shared settings plus its overrides."""
    overrides = config.get("train_overrides", {}).get(codec, {})
    return {**config["train"], **overrides}
