"""What programs import: the predictor, the models' input contract, the CLI.

    from vmaf_predictor.runtime.predictor import Predictor, encode_features

- ``features``: the graph's input and output names and the 14 features;
- ``session``: how a model is run (onnxruntime, CPU), as the consumer does;
- ``predictor``: predicted VMAF for a shot and the CRF that meets a target;
- ``cli``: ``python -m vmaf_predictor``.

Nothing here builds models; it loads the ones in ``model/`` (or uses the
analytical fallback curve). This file imports nothing, so the build stages
that need only ``features`` do not depend on the predictor's code.
"""
