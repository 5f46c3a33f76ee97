# Stage 0 (with --config sources=DIR or a sources sheet): each clip into shots,
# then the encode + libvmaf sweep of every shot. Its rows (results/sweep/corpus.jsonl) are one more corpus file for
# the split; `snakemake sweep --config sources=DIR` stops there.


checkpoint sweep_check:
    """Every clip must decode as video in FFmpeg, whole and undamaged, or the
    run stops before any encode, naming each file and the reason."""
    input:
        code=code("sweep_check"),
        clips=list(CLIP_PATHS.values()),
    output:
        manifest="results/sweep/clips.json",
    log:
        "logs/sweep_check.log",
    benchmark:
        "benchmarks/sweep_check.tsv"
    # One decoded frame and one full decode per clip: about 1.4 s of CPU for
    # 240 frames of 1080p H.264.
    threads: 1
    resources:
        mem_mb=500,
        runtime=30,
    params:
        sources=[[name, path] for name, path in CLIP_PATHS.items()],
        sweep=sweep_settings(),
    script:
        "../scripts/sweep_check.py"


rule sweep_shots:
    """A clip's shots: scene cuts (FFmpeg's scdet), long takes cut at
    shots.max_frames; each shot is one sweep source."""
    input:
        # After the clip check (ancient: a clip added reruns no other split).
        checked=ancient(rules.sweep_check.output.manifest),
        clip=lambda wildcards: CLIP_PATHS[wildcards.clip],
        code=code("sweep_shots"),
    output:
        shots="results/sweep/shots/{clip}.json",
    log:
        "logs/sweep_shots/{clip}.log",
    benchmark:
        "benchmarks/sweep_shots/{clip}.tsv"
    # Two decodes of the clip (timestamps, scene scores).
    threads: 1
    resources:
        mem_mb=500,
        runtime=30,
    params:
        clip=lambda wildcards: wildcards.clip,
        shots=workflow_config.shot_settings(config),
        sweep=sweep_settings(),
    script:
        "../scripts/sweep_shots.py"


checkpoint sweep_sources:
    """Every clip's shots, in sources order: the sweep's sources. Snakemake
    plans each source's jobs once it has run (every clip split, in
    parallel)."""
    input:
        code=code("sweep_sources"),
        shots=expand(rules.sweep_shots.output.shots, clip=list(CLIP_PATHS)),
    output:
        sources="results/sweep/sources.json",
    log:
        "logs/sweep_sources.log",
    benchmark:
        "benchmarks/sweep_sources.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        clips=list(CLIP_PATHS),
    script:
        "../scripts/sweep_sources.py"


rule sweep_reference:
    """A shot's frames of its clip as the clean reference the sweep scores
    against (8-bit 4:2:0, even size, constant rate, y4m)."""
    input:
        unpack(reference_inputs),
        code=code("sweep_reference"),
    output:
        reference="results/sweep/references/{src}.y4m",
    log:
        "logs/sweep_reference/{src}.log",
    benchmark:
        "benchmarks/sweep_reference/{src}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        shot=lambda wildcards: {
            key: shot_entry(wildcards.src)[key] for key in ("start", "frames")
        },
        sweep=sweep_settings(),
    script:
        "../scripts/sweep_reference.py"


rule sweep_clip:
    """A source's (a shot's) stream facts, frame count, sha256 and the
    signalstats of its analysis window."""
    input:
        unpack(after_shots()),
        code=code("sweep_clip"),
    output:
        info="results/sweep/clips/{src}.json",
    log:
        "logs/sweep_clip/{src}.log",
    benchmark:
        "benchmarks/sweep_clip/{src}.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=15,
    params:
        sweep=sweep_settings("probe_max_frames"),
    script:
        "../scripts/sweep_clip.py"


rule sweep_probe:
    """The codec's probe encode of a source's analysis window."""
    input:
        unpack(after_shots(info=rules.sweep_clip.output.info)),
        code=code("sweep_probe"),
    output:
        probe="results/sweep/probes/{src}/{codec}.json",
    log:
        "logs/sweep_probe/{src}/{codec}.log",
    benchmark:
        "benchmarks/sweep_probe/{src}/{codec}.tsv"
    threads: config["sweep"]["threads"]
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        sweep=sweep_settings("threads", "probe"),
    script:
        "../scripts/sweep_probe.py"


rule sweep_encode:
    """One production encode of a source at one quality value, scored with
    libvmaf."""
    input:
        unpack(after_shots()),
        # The source's frame count, from the job that decoded it (ancient:
        # a changed feature definition rewrites the info, not the frames).
        info=lambda wildcards: ancient(
            expand(rules.sweep_clip.output.info, src=wildcards.src)[0]
        ),
        code=code("sweep_encode"),
    output:
        result="results/sweep/encodes/{src}/{codec}/{q}.json",
    log:
        "logs/sweep_encode/{src}/{codec}/{q}.log",
    benchmark:
        "benchmarks/sweep_encode/{src}/{codec}/{q}.tsv"
    threads: config["sweep"]["threads"]
    resources:
        mem_mb=1500,
        runtime=60,
    params:
        quality=lambda wildcards: int(wildcards.q),
        sweep=sweep_settings("threads", "vmaf_model", "production"),
    script:
        "../scripts/sweep_encode.py"


rule sweep_gather:
    """Every row, in a fixed order, into results/sweep/corpus.jsonl."""
    input:
        unpack(gather_inputs),
        code=code("sweep_gather"),
        manifest=rules.sweep_check.output.manifest,
    output:
        corpus=SWEEP_CORPUS,
        summary="results/sweep/summary.json",
    log:
        "logs/sweep_gather.log",
    benchmark:
        "benchmarks/sweep_gather.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        clips=lambda wildcards: sweep_sources(),
        probes=lambda wildcards: sweep_probes(),
        plan=lambda wildcards: sweep_plan(),
        vmaf_model=config["sweep"]["vmaf_model"],
    script:
        "../scripts/sweep_gather.py"


rule sweep:
    """Sweep the clips of --config sources=... and stop: results/sweep/corpus.jsonl."""
    input:
        sweep_target,
