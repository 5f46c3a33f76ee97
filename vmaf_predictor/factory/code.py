"""Which files a rule's script runs: the script, the stage module it names
and everything they import.

The rules list these as inputs, so editing a module reruns exactly the jobs
that execute it (editing the report reruns the report, not training). The
closure is read from the source text (nothing is imported), so it is cheap
enough to compute while Snakemake parses the workflow.

A script (``scripts/<rule>.py``) is ``run_stage(snakemake, "s3_train.run")``:
the stage it runs is that string, :func:`script_stage`.
"""

from __future__ import annotations

import ast
import re
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


# An import of the package: ``from vmaf_predictor.x import a, b as c`` (the
# names in parentheses may span lines) or ``import vmaf_predictor.x``.
IMPORT = re.compile(
    rf"^[ \t]*(?:from[ \t]+({PACKAGE}[\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)"
    rf"|import[ \t]+({PACKAGE}[\w.]*))",
    re.M,
)
# Docstrings (their examples import too) and ``if TYPE_CHECKING:`` with the
# lines indented under it: neither runs.
TRIPLE_QUOTED = re.compile(r"(\"\"\"|\'\'\').*?\1", re.S)
TYPE_CHECKING_BLOCK = re.compile(
    r"^([ \t]*)if[ \t]+(?:typing\.)?TYPE_CHECKING[ \t]*:[^\n]*\n"
    r"(?:(?:\1[ \t]+[^\n]*|[ \t]*)\n)*",
    re.M,
)


def _imported(source: str) -> set[str]:
    """Package modules imported anywhere in ``source`` (function bodies too,
    since they run; ``if TYPE_CHECKING:`` blocks left out, since they don't).

    A scan of the text, not ``ast.parse``: the workflow reads every module's
    imports on every run, and parsing the package's 50 modules took 155 ms
    of a 1.5 s no-op run; the scan takes a few. tests/test_code.py checks
    that it finds what the parser finds in every module."""
    found: set[str] = set()
    code = TYPE_CHECKING_BLOCK.sub("", TRIPLE_QUOTED.sub("", source))
    for match in IMPORT.finditer(code):
        module, names, plain = match.groups()
        if plain:
            found.add(plain)
            continue
        found.add(module)
        # ``from vmaf_predictor.factory import s2_corpus`` imports a module.
        names = re.sub(r"#[^\n]*", "", names).strip("() \t\n")
        found.update(f"{module}.{n.split()[0]}" for n in names.split(",") if n.strip())
    return found


@cache
def _imports_of(path: Path) -> frozenset[str]:
    """The package modules ``path`` imports (each file parsed once a run:
    the stages share most of their modules)."""
    return frozenset(_imported(path.read_text(encoding="utf-8")))


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
