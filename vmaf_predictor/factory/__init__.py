"""The build stages, one module each, named in graph order.

    (s0_sweep + s0_encode) -> s1_split -> s2_corpus -> s3_train -> s4_export
        -> s5_allowlist -> s6_validate -> s7_card -> (publish) -> s8_hash

Each stage module has ``run(input, output, params, codec) -> str``: the
Snakemake rule of the same name runs it from its script
(``scripts/<rule>.py``: ``jobs.run_stage(snakemake, "s3_train.run")``), in a
process of the job's own, with the job's own input, output and params
(``codec`` is the job's wildcard, None for rules over all codecs), and it
returns the line the job logs. Anything that needs the stages in one
process (the benchmark, the reproducibility tier) calls the same functions,
found from the scripts (``code.script_stage``, ``jobs.stage_function``). This
file imports nothing: a stage's code inputs are what it runs, not every
stage. ``network`` is the
model shared by training and export; ``report`` and ``verify`` are the
workflow's report and CI check.
"""
