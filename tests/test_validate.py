"""The validate stage: checks that pass a good model and catch bad ones."""

from __future__ import annotations

import dataclasses

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from vmaf_predictor.factory import s2_corpus as corpus
from vmaf_predictor.factory import s6_validate as validate
from vmaf_predictor.runtime.features import FEATURE_NAMES


@pytest.fixture(scope="module")
def rows(x264):
    return [[r[n] for n in FEATURE_NAMES] for r in corpus.synthetic_rows(x264, 100)]


def column_model(column: int, output: str = "vmaf") -> bytes:
    """A model whose prediction is one input column, unchanged."""
    bounds = (("start", column), ("end", column + 1), ("axis", 1))
    ints = [numpy_helper.from_array(np.array([value]), name) for name, value in bounds]
    graph = helper.make_graph(
        [helper.make_node("Slice", ["input", "start", "end", "axis"], [output])],
        "vmaf_predictor_libx264",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 14])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["N", 1])],
        ints,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    return model.SerializeToString()


def test_the_exported_model_passes_every_check(onnx_x264, trained_x264, x264, rows):
    report = validate.validate(onnx_x264, trained_x264, x264, rows)
    assert report.status == "pass"
    assert report.monotone_vectors == 256
    assert report.quality_values == 103  # 0, 0.5, ..., 51
    assert report.largest_step <= 0.0
    assert 0.0 <= report.lowest <= report.highest <= 100.0


def test_a_model_that_rises_with_crf_fails_naming_codec_and_crf(
    trained_x264, x264, rows
):
    with pytest.raises(validate.ValidationError) as caught:
        validate.validate(column_model(0), trained_x264, x264, rows)
    message = str(caught.value)
    assert message.startswith("libx264: predicted VMAF rises from 0.0 at crf 0 to 0.5")
    assert "probe_bitrate_kbps" in message


def test_a_model_that_leaves_0_100_fails_naming_the_input(trained_x264, x264, rows):
    with pytest.raises(validate.ValidationError, match=r"libx264: output \S+ outside"):
        validate.validate(column_model(1), trained_x264, x264, rows)


def test_a_model_that_drifts_from_torch_fails(onnx_x264, trained_x264, x264, rows):
    drifted = dataclasses.replace(
        trained_x264,
        check_predictions=[p + 1e-3 for p in trained_x264.check_predictions],
    )
    with pytest.raises(validate.ValidationError, match="tolerance 1e-05"):
        validate.validate(onnx_x264, drifted, x264, rows)


def test_a_model_with_another_output_name_fails(trained_x264, x264, rows):
    with pytest.raises(validate.ValidationError, match="expected"):
        validate.validate(column_model(0, "score"), trained_x264, x264, rows)


def test_the_grid_covers_every_integer_and_half_integer(codecs):
    grid = validate.quality_grid(codecs["libx265"])
    assert grid[0] == 15 and grid[-1] == 40 and len(grid) == 51


def test_onnx_checker_accepts_the_test_models():
    onnx.checker.check_model(onnx.load_from_string(column_model(0)))
