"""Build and training timings, printed side by side (medians of several runs,
the compared commands interleaved so that a change in the machine's load
hits both).

    make bench                      # or: .venv/bin/python tools/benchmark.py
    .venv/bin/python tools/benchmark.py --runs 5 --train-rows 100 1000

Measures, on this machine:
  - training one codec on N synthetic rows (100, 1,000, 10,000): this
    project's exact-arithmetic training (the train stage's own function,
    one thread) beside a reference-style float32 trainer
    (tools/reference_trainer.py), each in a fresh process after a warm-up
    training of 20 rows (imports and first-call costs excluded): seconds and
    peak memory;
  - a clean `snakemake --cores 4 all_stubs` in a fresh copy of the
    workflow, beside the reference-style trainer building 14 models in one
    process, and the same stages in one process (tools/one_process.py);
  - a no-op rerun of all_stubs, and `snakemake verify`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the workflow-copy helper lives there

from checkout import copy_workflow  # noqa: E402

TRAIN_ROWS = (100, 1_000, 10_000)


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{result.stderr[-3000:]}")
    return elapsed


def peak_rss_mib(command: list[str], cwd: Path) -> tuple[float, float, str]:
    """Wall seconds, the child's own peak RSS (wait4 on it) and its stdout."""
    start = time.perf_counter()
    child = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    # Read the pipes in the background: wait4 reaps the child itself.
    out: list[str] = []
    err: list[str] = []
    readers = [
        threading.Thread(target=lambda: out.append(child.stdout.read())),
        threading.Thread(target=lambda: err.append(child.stderr.read())),
    ]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    for reader in readers:
        reader.join()
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{err[0][-3000:]}")
    return elapsed, usage.ru_maxrss / 1024, out[0]


def snakemake(*args: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", *args]


OUR_TRAINING = """
import sys, time, torch, yaml
from vmaf_predictor.factory import s2_corpus, s3_train
from vmaf_predictor.factory.network import TrainSettings
from vmaf_predictor.registry import registry_from_config
torch.set_num_threads(1)  # as the train stage does
config = yaml.safe_load(open("config.yaml"))
codec = registry_from_config(config)["libx264"]
settings = TrainSettings(**config["train"])
warm_up = TrainSettings(**{**config["train"], "epochs": 2})
s3_train.train("libx264", s2_corpus.synthetic_columns(codec, 20), warm_up, codec)
table = s2_corpus.synthetic_columns(codec, int(sys.argv[1]))
started = time.perf_counter()
model = s3_train.train("libx264", table, settings, codec)
print(f"{time.perf_counter() - started:.3f} {len(model.loss_curve)}")
"""


def measure_training(runs: int, rows_list: list[int]) -> dict:
    """(trainer, rows) -> list of (training seconds, peak MiB)."""
    found: dict = {}
    for run in range(runs):
        for rows in rows_list:
            ours = [sys.executable, "-c", OUR_TRAINING, str(rows)]
            _, rss, out = peak_rss_mib(ours, ROOT)
            seconds, epochs = out.split()
            found.setdefault(("ours", rows), []).append((float(seconds), rss))
            found[("epochs", rows)] = int(epochs)
            reference = [sys.executable, str(ROOT / "tools" / "reference_trainer.py")]
            _, rss, out = peak_rss_mib([*reference, "--fit-only", str(rows)], ROOT)
            found.setdefault(("reference", rows), []).append((float(out), rss))
        print(f"  training, run {run + 1}/{runs} done", file=sys.stderr)
    return found


def report_training(found: dict, rows_list: list[int]) -> None:
    print("\nTraining one codec (libx264, synthetic rows; 80 % train), one thread")
    print(
        f"  {'rows':>7}  {'ours s':>8}  {'epochs':>6}  {'reference s':>11}  "
        f"{'ratio':>5}  {'ours MiB':>8}  {'ref MiB':>7}  runs (ours / reference s)"
    )
    for rows in rows_list:
        ours, ref = found[("ours", rows)], found[("reference", rows)]
        o = statistics.median(t for t, _ in ours)
        r = statistics.median(t for t, _ in ref)
        om = statistics.median(m for _, m in ours)
        rm = statistics.median(m for _, m in ref)
        pairs = zip(ours, ref, strict=True)
        runs = ", ".join(f"{a:.1f}/{b:.1f}" for (a, _), (b, _) in pairs)
        print(
            f"  {rows:>7}  {o:>8.2f}  {found[('epochs', rows)]:>6}  {r:>11.2f}  "
            f"{o / r:>5.2f}  {om:>8.0f}  {rm:>7.0f}  {runs}"
        )
    print(
        "  (reference: float32 MLP 14-64-64-1, 200 epochs, torch kernels and "
        "autograd; ours: float64 exact arithmetic, 400 epochs at most and at "
        "most train.max_steps batches, plus the held-out figures and baselines)"
    )


def measure_build(runs: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}
    for run in range(runs):
        with tempfile.TemporaryDirectory() as scratch:
            checkout = copy_workflow(Path(scratch) / "wf")
            times.setdefault("workflow", []).append(
                timed(snakemake("--cores", "4", "all_stubs"), checkout)
            )
            reference = Path(scratch) / "reference"
            command = [sys.executable, str(ROOT / "tools" / "reference_trainer.py")]
            times.setdefault("reference", []).append(
                timed([*command, str(reference)], checkout)
            )
            out = Path(scratch) / "one"
            command = [sys.executable, str(ROOT / "tools" / "one_process.py"), str(out)]
            command += ["--config", str(checkout / "config.yaml")]
            times.setdefault("one_process", []).append(timed(command, checkout))
            times.setdefault("noop", []).append(
                timed(snakemake("--cores", "4", "all_stubs"), checkout)
            )
            if run < 2:  # verify rebuilds everything: two runs are enough
                times.setdefault("verify", []).append(
                    timed(snakemake("--cores", "4", "verify"), checkout)
                )
        print(f"  build, run {run + 1}/{runs} done", file=sys.stderr)
    return times


def report_build(times: dict[str, list[float]]) -> None:
    median = statistics.median
    print("\nStub build (14 codecs, 100 rows each)")
    print(f"  {'measure':<52} {'median s':>9}  runs")
    rows = [
        ("clean all_stubs, snakemake --cores 4", "workflow"),
        ("reference-style trainer, 14 codecs in one process", "reference"),
        ("our stages, 14 codecs in one process", "one_process"),
        ("no-op rerun of all_stubs (target < 1.5 s)", "noop"),
        ("snakemake verify", "verify"),
    ]
    for label, key in rows:
        runs = ", ".join(f"{t:.1f}" for t in times[key])
        print(f"  {label:<52} {median(times[key]):>9.2f}  {runs}")
    ratio = median(times["workflow"]) / median(times["reference"])
    print(f"  {'ratio clean build / reference (target <= 4)':<52} {ratio:>9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per figure")
    parser.add_argument(
        "--train-rows", type=int, nargs="*", default=list(TRAIN_ROWS),
        help="rows of the training table (none: skip it)",
    )  # fmt: skip
    parser.add_argument("--no-build", action="store_true", help="skip the builds")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    if args.train_rows:
        report_training(measure_training(args.runs, args.train_rows), args.train_rows)
    if not args.no_build:
        report_build(measure_build(args.runs))


if __name__ == "__main__":
    main()
