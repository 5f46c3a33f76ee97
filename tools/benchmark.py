"""Build timings, printed side by side (median of several runs).

    make bench                      # or: .venv/bin/python tools/benchmark.py
    .venv/bin/python tools/benchmark.py --runs 5 --rows 400

Measures, on this machine:
  - a clean `snakemake --cores 4 all_stubs` in a fresh copy of the workflow;
  - one Python process running the same stages for the 14 codecs one after
    another (the shape of the reference trainer);
  - a no-op rerun of all_stubs, and `snakemake verify`.
With --rows N, the clean build and the one-process build are repeated on a
synthetic corpus of N rows per codec, where training outweighs start-up.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the workflow-copy helper lives there

from checkout import copy_workflow  # noqa: E402


def checkout_with_rows(destination: Path, rows: int | None) -> Path:
    copy_workflow(destination)
    if rows:
        config = yaml.safe_load((destination / "config.yaml").read_text())
        config["synthetic_rows"] = rows
        (destination / "config.yaml").write_text(yaml.safe_dump(config))
    return destination


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{result.stderr[-3000:]}")
    return elapsed


def snakemake(*args: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", *args]


def measure(runs: int, rows: int | None) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"workflow": [], "one_process": []}
    for run in range(runs):
        with tempfile.TemporaryDirectory() as scratch:
            checkout = checkout_with_rows(Path(scratch) / "wf", rows)
            times["workflow"].append(
                timed(snakemake("--cores", "4", "all_stubs"), checkout)
            )
            out = Path(scratch) / "one"
            out.mkdir()
            command = [sys.executable, str(ROOT / "tools" / "one_process.py"), str(out)]
            command += ["--config", str(checkout / "config.yaml")]
            times["one_process"].append(timed(command, checkout))
            if rows is None:
                times.setdefault("noop", []).append(
                    timed(snakemake("--cores", "4", "all_stubs"), checkout)
                )
                if run < 2:  # verify rebuilds everything: two runs are enough
                    times.setdefault("verify", []).append(
                        timed(snakemake("--cores", "4", "verify"), checkout)
                    )
        print(f"  run {run + 1}/{runs} done", file=sys.stderr)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def report(title: str, times: dict[str, list[float]]) -> None:
    workflow, one = median(times["workflow"]), median(times["one_process"])
    print(f"\n{title}")
    print(f"  {'measure':<44} {'median s':>9}  runs")
    rows = [
        ("clean all_stubs, snakemake --cores 4", "workflow"),
        ("one process, 14 codecs one after another", "one_process"),
        ("no-op rerun of all_stubs (target < 3 s)", "noop"),
        ("snakemake verify (target < 60 s)", "verify"),
    ]
    for label, key in rows:
        if key in times:
            runs = ", ".join(f"{t:.1f}" for t in times[key])
            print(f"  {label:<44} {median(times[key]):>9.2f}  {runs}")
    print(f"  {'ratio workflow / one process':<44} {workflow / one:>9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per figure")
    parser.add_argument(
        "--rows", type=int, help="also time a corpus of this many rows per codec"
    )
    args = parser.parse_args()
    report("Stub build (100 rows per codec)", measure(args.runs, None))
    if args.rows:
        title = f"Larger corpus ({args.rows} rows per codec)"
        report(title, measure(args.runs, args.rows))


if __name__ == "__main__":
    main()
