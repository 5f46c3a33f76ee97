"""The rules' code inputs (factory/code.py): which package modules a file
imports decides which jobs an edit reruns."""

import ast
from pathlib import Path

import pytest

from vmaf_predictor.factory import code

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted(
    [*(ROOT / "vmaf_predictor").rglob("*.py"), *(ROOT / "scripts").glob("*.py")]
)


def parsed_imports(source: str) -> set[str]:
    """What Python's own parser says ``source`` imports from the package,
    ``if TYPE_CHECKING:`` blocks left out."""
    found, stack = set(), [ast.parse(source)]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith(code.PACKAGE)}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            code.PACKAGE
        ):
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        stack.extend(ast.iter_child_nodes(node))
    return found


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_scan_finds_what_the_parser_finds(path):
    source = path.read_text(encoding="utf-8")
    assert code._imported(source) == parsed_imports(source)


def test_the_scan_reads_every_form_and_skips_type_checking_blocks():
    source = """
import vmaf_predictor.runtime.features
from vmaf_predictor.factory import (
    s2_corpus,  # a comment
    s3_train as train,
)
if TYPE_CHECKING:
    from vmaf_predictor.factory import report

    from vmaf_predictor.factory import verify
def f():
    from vmaf_predictor.names import clip_of, model_file_name as name
"""
    assert code._imported(source) == {
        "vmaf_predictor.runtime.features",
        "vmaf_predictor.factory",
        "vmaf_predictor.factory.s2_corpus",
        "vmaf_predictor.factory.s3_train",
        "vmaf_predictor.names",
        "vmaf_predictor.names.clip_of",
        "vmaf_predictor.names.model_file_name",
    }
