"""Stage 3: write the trained network as an ONNX graph, built node by node.

The graph is assembled with ``onnx.helper`` rather than a torch exporter, so
no exporter version, source location or stack trace can reach the bytes:
they depend only on the weights and this file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from vmaf_predictor import __version__
from vmaf_predictor.features import N_FEATURES
from vmaf_predictor.trained import TrainedModel

INPUT_NAME = "input"
OUTPUT_NAME = "vmaf"
IR_VERSION = 8  # the IR version that goes with opset 18
PARITY_TOLERANCE = 1e-5


def build_model(trained: TrainedModel, opset: int) -> onnx.ModelProto:
    """The graph ``50 + 50*softsign(MLP((x - mean) / std))``, 12 nodes.

    It computes in float64 between a Cast in and a Cast out: the weights are
    float32 values (the export rounding rule), but float32 arithmetic alone
    would leave onnxruntime only about one float32 step (7.6e-6 near 100) from
    the trained model, and that margin would depend on the CPU's GEMM kernel.
    """

    def const(name: str, values: Sequence) -> TensorProto:
        return numpy_helper.from_array(np.asarray(values, dtype=np.float64), name)

    initializers = [const("mean", [trained.mean]), const("std", [trained.std])]
    nodes = [
        helper.make_node(
            "Cast", [INPUT_NAME], ["input64"], name="widen", to=TensorProto.DOUBLE
        ),
        helper.make_node("Sub", ["input64", "mean"], ["centred"], name="centre"),
        helper.make_node("Div", ["centred", "std"], ["h0"], name="scale"),
    ]
    last = len(trained.layers)
    for i, layer in enumerate(trained.layers, start=1):
        initializers += [const(f"w{i}", layer["weight"]), const(f"b{i}", layer["bias"])]
        out = f"z{i}" if i == last else f"a{i}"
        nodes.append(
            helper.make_node(
                "Gemm", [f"h{i - 1}", f"w{i}", f"b{i}"], [out], name=f"linear{i}"
            )
        )
        if i < last:
            nodes.append(helper.make_node("Relu", [out], [f"h{i}"], name=f"relu{i}"))
    initializers += [const("half_range", [50.0])]
    nodes += [
        helper.make_node("Softsign", [f"z{last}"], ["squashed"], name="squash"),
        helper.make_node("Mul", ["squashed", "half_range"], ["spread"], name="spread"),
        helper.make_node("Add", ["spread", "half_range"], ["vmaf64"], name="shift"),
        helper.make_node(
            "Cast", ["vmaf64"], [OUTPUT_NAME], name="narrow", to=TensorProto.FLOAT
        ),
    ]
    graph = helper.make_graph(
        nodes,
        f"vmaf_predictor_{trained.codec}",
        [
            helper.make_tensor_value_info(
                INPUT_NAME, TensorProto.FLOAT, ["N", N_FEATURES]
            )
        ],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", 1])],
        initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", opset)],
        ir_version=IR_VERSION,
        producer_name="vmaf_predictor",
        producer_version=__version__,
        doc_string=f"Per-shot VMAF predictor for {trained.codec}; see its model card.",
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def run_onnx(model_bytes: bytes, inputs: Sequence[Sequence[float]]) -> list[float]:
    """Run a serialised model in onnxruntime (CPU), as a consumer would."""
    import onnxruntime as ort

    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    (output,) = session.run(
        [OUTPUT_NAME], {INPUT_NAME: np.asarray(inputs, dtype=np.float32)}
    )
    return output[:, 0].astype(np.float64).tolist()


def check_parity(
    model_bytes: bytes, trained: TrainedModel, tolerance: float = PARITY_TOLERANCE
) -> float:
    """Largest |onnxruntime - torch| on the held-out rows; raise above tolerance."""
    produced = run_onnx(model_bytes, trained.holdout_inputs)
    worst = max(
        abs(p - t) for p, t in zip(produced, trained.holdout_predictions, strict=True)
    )
    if not worst <= tolerance:
        raise ValueError(
            f"{trained.codec}: onnxruntime differs from the trained torch model by "
            f"{worst:.3g} on the held-out rows (tolerance {tolerance:g})"
        )
    return worst


def export(trained: TrainedModel, opset: int, onnx_path: Path) -> tuple[bytes, float]:
    """Stage entry point: build, check parity, write the ONNX file.

    Returns the bytes and the largest onnxruntime-vs-torch difference.
    """
    data = build_model(trained, opset).SerializeToString()
    worst = check_parity(data, trained)
    Path(onnx_path).write_bytes(data)
    return data, worst
