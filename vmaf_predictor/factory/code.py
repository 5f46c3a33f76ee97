"""Which files a rule's script runs: the script, the stage module it names
and everything they import.

The rules list these as inputs, so editing a module reruns exactly the jobs
that execute it (editing the report reruns the report, not training). The
closure is read from the source with :mod:`ast` (nothing is imported), so it
is cheap enough to compute while Snakemake parses the workflow.

A script (``scripts/<rule>.py``) is ``run_stage(snakemake, "s3_train.run")``:
the stage it runs is that string, :func:`script_stage`.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PACKAGE = "vmaf_predictor"
# The package of the stage modules a script names (as jobs.STAGE_PACKAGE).
STAGE_PACKAGE = f"{PACKAGE}.factory"
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def _module_path(name: str) -> Path | None:
    """The file of a package module (a package's ``__init__.py``), if any."""
    parts = name.split(".")[1:]
    if not parts:
        return PACKAGE_DIR / "__init__.py"
    relative = Path(*parts)
    for candidate in (relative.with_suffix(".py"), relative / "__init__.py"):
        path = PACKAGE_DIR / candidate
        if path.is_file():
            return path
    return None


def _type_checking_only(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _imported(tree: ast.AST) -> set[str]:
    """Package modules imported anywhere in ``tree`` (function bodies too,
    since they run; ``if TYPE_CHECKING:`` blocks excluded, since they don't)."""
    found: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if _type_checking_only(node):
            stack.extend(getattr(node, "orelse", []))
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith(PACKAGE))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            PACKAGE
        ):
            found.add(node.module)
            # ``from vmaf_predictor.factory import s2_corpus`` imports a module.
            found.update(f"{node.module}.{a.name}" for a in node.names)
        stack.extend(ast.iter_child_nodes(node))
    return found


@cache
def _imports_of(path: Path) -> frozenset[str]:
    """The package modules ``path`` imports (each file parsed once a run:
    the stages share most of their modules)."""
    return frozenset(_imported(ast.parse(path.read_text(encoding="utf-8"))))


@cache
def module_files(module: str) -> tuple[str, ...]:
    """Sorted absolute paths of ``module``, the package
    modules it imports transitively, and the ``__init__.py`` of every package
    on the way (Python runs them on import)."""
    seen: set[Path] = set()
    queue = [module]
    while queue:
        name = queue.pop()
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):  # parent packages run first
            init = _module_path(".".join(parts[:depth]))
            if init is not None and init.name == "__init__.py" and init not in seen:
                seen.add(init)
                queue.extend(_imports_of(init))
        path = _module_path(name)
        if path is None or (path in seen and path.name != "__init__.py"):
            continue
        seen.add(path)
        queue.extend(_imports_of(path))
    return tuple(sorted(str(p) for p in seen))


@cache
def script_stage(script: Path) -> str:
    """The stage a rule's script runs: the string its ``run_stage`` call
    names ("s3_train.run")."""
    tree = ast.parse(Path(script).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", "")) == "run_stage"
            and len(node.args) == 2
            and isinstance(node.args[1], ast.Constant)
        ):
            return node.args[1].value
    raise ValueError(f'{script}: no run_stage(snakemake, "module.function") call')


def script_files(script: str | Path) -> tuple[str, ...]:
    """Sorted absolute paths of ``script``, the stage module it runs and the
    package modules both import (:func:`module_files`)."""
    script = Path(script).resolve()
    stage_module = f"{STAGE_PACKAGE}.{script_stage(script).partition('.')[0]}"
    files = {str(script)}
    for module in (*_imports_of(script), stage_module):
        files.update(module_files(module))
    return tuple(sorted(files))
