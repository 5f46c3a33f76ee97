import hashlib
import json
from types import SimpleNamespace as Files

import numpy as np
import onnx
import pytest
import torch
from fresh_process import python_output

from vmaf_predictor.factory import network
from vmaf_predictor.factory import s4_export as export
from vmaf_predictor.factory import s5_allowlist as allowlist
from vmaf_predictor.runtime.session import open_session as _session
from vmaf_predictor.runtime.session import predict


def test_graph_has_the_documented_input_and_output(onnx_x264):
    session = _session(onnx_x264)
    (inp,) = session.get_inputs()
    (out,) = session.get_outputs()
    assert (inp.name, inp.type, inp.shape) == ("input", "tensor(float)", ["N", 14])
    assert (out.name, out.type, out.shape) == ("vmaf", "tensor(float)", ["N", 1])


def test_graph_is_opset_18(onnx_x264):
    model = onnx.load_from_string(onnx_x264)
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 18)]


def test_onnxruntime_matches_the_torch_model_within_1e_5(trained_x264, onnx_x264):
    # Recompute the trained torch network here, independently of the stage.
    s = trained_x264.settings
    shapes = network.parameter_shapes(s.hidden, s.crf_knots)
    theta = torch.cat(
        [torch.tensor(trained_x264.weights[name]).flatten() for name in shapes]
    ).double()
    model = network.MonotoneNet(
        s.hidden, s.crf_knots, theta, tuple(trained_x264.target_scale)
    )
    columns = network.model_inputs(np.array(trained_x264.holdout_inputs))
    x = (torch.from_numpy(columns) - torch.tensor(trained_x264.mean)) / torch.tensor(
        trained_x264.std, dtype=torch.float64
    )
    with torch.no_grad():
        expected = model.forward(x).squeeze(1).numpy()
    produced = predict(_session(onnx_x264), trained_x264.holdout_inputs)
    assert np.max(np.abs(produced - expected)) <= 1e-5


def test_outputs_are_finite_and_inside_0_100_even_for_extreme_inputs(onnx_x264):
    extremes = np.array(
        [
            [0] * 14,
            [51, 1e6, 1e7, 1e7, 1e7, 1, 1, 100, 255, 1e4, 1e5, 240, 7680, 4320],
            [0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 16, 16],
        ],
        dtype=np.float32,
    )
    (vmaf,) = _session(onnx_x264).run(["vmaf"], {"input": extremes})
    assert np.all(np.isfinite(vmaf)) and np.all((vmaf >= 0) & (vmaf <= 100))


def test_export_is_byte_identical_in_another_process(trained_x264, onnx_x264, tmp_path):
    network.save(trained_x264, tmp_path / "trained.json")
    there = python_output(f"""
        import hashlib
        from vmaf_predictor.factory import network, s4_export
        trained = network.load({str(tmp_path / "trained.json")!r})
        model = s4_export.build_model(trained, 18)
        print(hashlib.sha256(model.SerializeToString()).hexdigest())
    """)
    assert there == hashlib.sha256(onnx_x264).hexdigest()


def test_building_the_graph_never_loads_torch(trained_x264, tmp_path):
    """The export job builds the graph from the model module without torch
    (1.5 s a job): only the functions that compute with it import it."""
    network.save(trained_x264, tmp_path / "trained.json")
    there = python_output(f"""
        import sys
        from vmaf_predictor.factory import network, s4_export
        s4_export.build_model(network.load({str(tmp_path / "trained.json")!r}), 18)
        print("torch" in sys.modules)
    """)
    assert there == "False"


def test_graph_carries_no_exporter_metadata(onnx_x264):
    model = onnx.load_from_string(onnx_x264)
    assert model.producer_name == "vmaf_predictor"
    assert not model.metadata_props
    assert all(not node.doc_string for node in model.graph.node)


def _export_job(tmp_path, config, trained, ops=None):
    """The export stage run as its rule runs it, on the stub corpus."""
    from vmaf_predictor.factory import s2_corpus

    codec = config["codecs"]["libx264"]
    rows = s2_corpus.synthetic_columns(
        s2_corpus.codec_from_config("libx264", codec), 100
    )
    info = {"codec": "libx264", "kind": "synthetic-stub", "features": "synthetic"}
    s2_corpus.write_corpus(rows, info, tmp_path / "c.parquet", tmp_path / "c.json")
    network.save(trained, tmp_path / "trained.json")
    output = Files(
        **{k: tmp_path / k for k in ("onnx", "allowlist", "validation", "card")}
    )
    export.run(
        Files(
            trained=tmp_path / "trained.json",
            table=tmp_path / "c.parquet",
            corpus_info=tmp_path / "c.json",
        ),
        output,
        Files(
            opset=18,
            ops=config["allowlist"]["ops"] if ops is None else ops,
            loop_max_trip_count=config["allowlist"]["loop_max_trip_count"],
            codec=codec,
            built_with={"onnx": onnx.__version__},
        ),
        "libx264",
    )
    return output


def test_the_stage_writes_the_checked_graph_and_its_card(
    trained_x264, onnx_x264, tmp_path, config
):
    out = _export_job(tmp_path, config, trained_x264)
    assert out.onnx.read_bytes() == onnx_x264
    assert json.loads(out.allowlist.read_text())["status"] == "pass"
    assert "Gemm" in json.loads(out.allowlist.read_text())["ops"]
    assert json.loads(out.validation.read_text())["codec"] == "libx264"
    assert hashlib.sha256(onnx_x264).hexdigest() in out.card.read_text()


def test_a_forbidden_op_fails_the_stage_before_it_writes_anything(
    trained_x264, tmp_path, config
):
    ops = [op for op in config["allowlist"]["ops"] if op != "Log"]
    with pytest.raises(allowlist.ForbiddenOpError, match=r"libx264(.|\n)*op Log"):
        _export_job(tmp_path, config, trained_x264, ops=ops)
    assert not any((tmp_path / k).exists() for k in ("onnx", "allowlist", "card"))


def _blended_x264(trained_x264):
    import dataclasses

    from vmaf_predictor.factory import evaluation

    rows = np.array(trained_x264.holdout_inputs + trained_x264.check_inputs)
    targets = trained_x264.holdout_predictions + trained_x264.check_predictions
    curve = evaluation.fit_logistic(rows, targets)
    blend = {"weight": 0.25, **curve.as_dict()}
    return dataclasses.replace(trained_x264, blend=blend), curve


def test_a_blended_model_computes_the_blend_in_onnxruntime(trained_x264):
    from vmaf_predictor.factory.training import blended

    model, curve = _blended_x264(trained_x264)
    graph = export.build_model(model, opset=18)
    assert "Sigmoid" in {n.op_type for n in graph.graph.node}
    rows = trained_x264.holdout_inputs
    expected = blended(trained_x264.holdout_predictions, curve.predict(rows), 0.25)
    produced = predict(_session(graph.SerializeToString()), rows)
    assert np.max(np.abs(produced - np.array(expected))) <= 1e-5


def test_a_blended_model_never_rises_with_crf(trained_x264, x264):
    from vmaf_predictor.factory import s6_validate
    from vmaf_predictor.runtime.features import spanning_rows

    model, _ = _blended_x264(trained_x264)
    session = _session(export.build_model(model, opset=18).SerializeToString())
    vectors = spanning_rows(trained_x264.check_inputs, 64)
    assert s6_validate.check_monotone(session, x264, vectors) <= 0.0
