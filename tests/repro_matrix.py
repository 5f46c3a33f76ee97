"""The full byte-stability matrix: `make test-repro [CPU_MODELS="Haswell Nehalem"]`.

Every condition must reproduce the committed model/ exactly:
  - CPU models: corpus, train and export of all 14 codecs in one process
    under `qemu-x86_64 -cpu M` (the models run in parallel; the checks and
    cards, which only read those bytes, run natively), compared with model/
    and, float64 result by float64 result, with a native build;
  - thread counts, --cores, caller-set CPU-dispatch variables, hash seed,
    time zone, locale and a checkout path with a space: `snakemake verify` in
    a fresh checkout under that condition.
Prints a table (condition, files compared, identical) and exits 1 on any
difference.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import sys
import time
from pathlib import Path

import repro
import yaml

WORKFLOW_CONDITIONS = (
    *repro.ENV_CONDITIONS,
    repro.Condition("snakemake --cores 1", cores=1),
    repro.Condition("snakemake --cores 4", cores=4),
)


def all_codecs() -> list[str]:
    return list(yaml.safe_load((repro.ROOT / "config.yaml").read_text())["codecs"])


def cpu_outcome(model: str, native: Path, scratch: Path) -> repro.Outcome:
    condition = repro.Condition(f"qemu-x86_64 -cpu {model}", cpu_model=model)
    out = repro.build_in_process(condition, scratch / model, all_codecs())
    rows = repro.verify.compare(repro.COMMITTED, out)
    float64 = repro.compare_subset(out, all_codecs(), native)
    differing = [r.file for r in rows if not r.ok] + float64.differing
    return repro.Outcome(condition.name, len(rows) + float64.compared, differing)


def run(cpu_models: list[str]) -> list[repro.Outcome]:
    outcomes = []
    with repro.scratch() as tmp:
        scratch = Path(tmp)
        if cpu_models:
            if not repro.qemu_available():
                sys.exit("qemu-x86_64 is missing: run `make qemu-user` (needs root)")
            native = repro.build_in_process(
                repro.Condition("native"), scratch / "native", all_codecs()
            )
            rows = repro.verify.compare(repro.COMMITTED, native)
            outcomes.append(
                repro.Outcome(
                    "native (this CPU)", len(rows), [r.file for r in rows if not r.ok]
                )
            )
            with concurrent.futures.ThreadPoolExecutor(len(cpu_models)) as pool:
                futures = [
                    pool.submit(cpu_outcome, m, native, scratch) for m in cpu_models
                ]
                outcomes += [f.result() for f in futures]
        for condition in WORKFLOW_CONDITIONS:
            checkout = repro.make_checkout(scratch / condition.name.replace("/", "_"))
            outcomes.append(repro.verify_in_checkout(condition, checkout))
            print(f"  done: {condition.name}", file=sys.stderr)
        spaced = repro.make_checkout(scratch / "a path with spaces", "clone here")
        outcomes.append(
            repro.verify_in_checkout(
                repro.Condition("checkout path with a space"), spaced
            )
        )
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-models", default="Haswell Nehalem")
    args = parser.parse_args()
    start = time.perf_counter()
    outcomes = run(args.cpu_models.split())
    width = max(len(o.condition) for o in outcomes)
    print(f"\n{'condition':<{width}}  files compared  identical")
    for o in outcomes:
        verdict = "yes" if o.identical else "NO: " + ", ".join(o.differing)
        print(f"{o.condition:<{width}}  {o.compared:>14}  {verdict}")
    print(f"\n{len(outcomes)} conditions in {time.perf_counter() - start:.0f} s")
    if not all(o.identical for o in outcomes):
        sys.exit(1)


if __name__ == "__main__":
    main()
