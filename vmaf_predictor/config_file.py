"""config.yaml with the defaults of its schema, for the workflow and the runtime.

The schema (``schemas/config.schema.yaml``) is the one home of every default,
nested ones too (the sweep's per-codec settings): the workflow validates and
fills the config it was given; the runtime (``python -m vmaf_predictor``)
reads the checkout's config.yaml the same way, so it measures a clip with the
settings the sweep used.
"""

from __future__ import annotations

import copy
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

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
    from vmaf_predictor.factory.config import validate

    config = yaml.safe_load(Path(config_path).read_text(encoding="utf-8")) or {}
    validate(config, schema_path)
    return config
