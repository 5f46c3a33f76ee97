# The HTML report (`make report`): figures and pages made from the build's
# outputs under results/report/. They never feed back into model/.


rule report_codec:
    """One codec's figures (VMAF against CRF, held-out scatter, loss) and card page."""
    input:
        unpack(
            after_split(
                trained=rules.train.output.trained,
                onnx=rules.export.output.onnx,
                corpus_info=rules.corpus.output.info,
                card=rules.export.output.card,
            )
        ),
        code=code("report_codec"),
    output:
        curves=report(
            "results/report/{codec}/vmaf_vs_crf.png",
            caption="../report/vmaf_vs_crf.rst",
            category="{codec}",
            labels={"figure": "1. VMAF against CRF"},
        ),
        holdout=report(
            "results/report/{codec}/holdout.png",
            caption="../report/holdout.rst",
            category="{codec}",
            labels={"figure": "2. held-out predictions"},
        ),
        loss=report(
            "results/report/{codec}/loss.png",
            caption="../report/loss.rst",
            category="{codec}",
            labels={"figure": "3. training loss"},
        ),
        card=report(
            "results/report/{codec}/card.html",
            caption="../report/card.rst",
            category="{codec}",
            labels={"figure": "4. model card"},
        ),
    log:
        "logs/report_codec/{codec}.log",
    benchmark:
        "benchmarks/report_codec/{codec}.tsv"
    # Measured locally: peak RSS 118 MB, 1-5 s (matplotlib, onnxruntime).
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        codec=codec_entry,
    script:
        "../scripts/report_codec.py"


rule report_overview:
    """One table of every codec: corpus, metrics, hashes, checks, committed bytes."""
    input:
        unpack(after_split(**overview_inputs())),
        code=code("report_overview"),
    output:
        page=report(
            "results/report/overview.html",
            caption="../report/overview.rst",
            category="1. Overview",
            labels={"page": "all codecs"},
        ),
    log:
        "logs/report_overview.log",
    benchmark:
        "benchmarks/report_overview.tsv"
    # Reads 14 small JSON files and hashes 14 models: well under a second.
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        codecs=CODECS,
        committed=committed_sums,
    script:
        "../scripts/report_overview.py"


rule report_corpus:
    """The real corpus's report (rows read, kept, dropped) as a page."""
    input:
        code=code("report_corpus"),
        report=rules.split.output.report_md,
    output:
        page=report(
            "results/report/corpus_report.html",
            caption="../report/corpus.rst",
            category="1. Overview",
            labels={"page": "corpus report"},
        ),
    log:
        "logs/report_corpus.log",
    benchmark:
        "benchmarks/report_corpus.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../scripts/report_corpus.py"


rule report_sweep:
    """A swept codec's measurements: VMAF and bitrate against the quality
    value, one line per clip."""
    input:
        code=code("report_sweep"),
        corpus=rules.sweep_gather.output.corpus,
    output:
        figure=report(
            "results/report/{codec}/sweep.png",
            caption="../report/sweep.rst",
            category="{codec}",
            labels={"figure": "5. the sweep"},
        ),
    log:
        "logs/report_sweep/{codec}.log",
    benchmark:
        "benchmarks/report_sweep/{codec}.tsv"
    # matplotlib over the sweep's rows: about a second.
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../scripts/report_sweep.py"
