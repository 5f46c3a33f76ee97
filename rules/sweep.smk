# Stage 0 (with --config sources=DIR or a sources sheet): the encode + libvmaf
# sweep. Its rows (results/sweep/corpus.jsonl) are one more corpus file for
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
    run:
        stage_job(rule, input, output, params, log, wildcards)


rule sweep_clip:
    """A clip's stream facts, frame count, sha256 and the signalstats of its
    analysis window."""
    input:
        unpack(after_sweep_check()),
        code=code("sweep_clip"),
    output:
        info="results/sweep/clips/{clip}.json",
    log:
        "logs/sweep_clip/{clip}.log",
    benchmark:
        "benchmarks/sweep_clip/{clip}.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=15,
    params:
        sweep=sweep_settings("probe_max_frames"),
    run:
        stage_job(rule, input, output, params, log, wildcards)


rule sweep_probe:
    """The codec's probe encode of a clip's analysis window."""
    input:
        unpack(after_sweep_check(info=rules.sweep_clip.output.info)),
        code=code("sweep_probe"),
    output:
        probe="results/sweep/probes/{clip}/{codec}.json",
    log:
        "logs/sweep_probe/{clip}/{codec}.log",
    benchmark:
        "benchmarks/sweep_probe/{clip}/{codec}.tsv"
    threads: config["sweep"]["threads"]
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        sweep=sweep_settings("threads", "probe"),
    run:
        stage_job(rule, input, output, params, log, wildcards)


rule sweep_encode:
    """One production encode at one quality value, scored with libvmaf."""
    input:
        unpack(after_sweep_check()),
        code=code("sweep_encode"),
    output:
        result="results/sweep/encodes/{clip}/{codec}/{q}.json",
    log:
        "logs/sweep_encode/{clip}/{codec}/{q}.log",
    benchmark:
        "benchmarks/sweep_encode/{clip}/{codec}/{q}.tsv"
    threads: config["sweep"]["threads"]
    resources:
        mem_mb=1500,
        runtime=60,
    params:
        quality=lambda wildcards: int(wildcards.q),
        sweep=sweep_settings("threads", "vmaf_model", "production"),
    run:
        stage_job(rule, input, output, params, log, wildcards)


rule sweep_gather:
    """Every row, in a fixed order, into results/sweep/corpus.jsonl."""
    input:
        code=code("sweep_gather"),
        manifest=rules.sweep_check.output.manifest,
        infos=expand(rules.sweep_clip.output.info, clip=list(CLIP_PATHS)),
        probes=expand(
            rules.sweep_probe.output.probe,
            zip,
            clip=[clip for clip, _ in sweep_probes()],
            codec=[codec for _, codec in sweep_probes()],
        ),
        encodes=expand(
            rules.sweep_encode.output.result,
            zip,
            clip=[clip for clip, _, _ in sweep_plan()],
            codec=[codec for _, codec, _ in sweep_plan()],
            q=[q for _, _, q in sweep_plan()],
        ),
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
        clips=list(CLIP_PATHS),
        probes=sweep_probes(),
        plan=sweep_plan(),
        vmaf_model=config["sweep"]["vmaf_model"],
    run:
        stage_job(rule, input, output, params, log, wildcards)


rule sweep:
    """Sweep the clips of --config sources=... and stop: results/sweep/corpus.jsonl."""
    input:
        sweep_target,
