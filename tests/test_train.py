import dataclasses
import hashlib
import json
import math
import random

import numpy as np
import pytest
import torch
from fresh_process import python_output

from vmaf_predictor.factory import network, training
from vmaf_predictor.factory import network as trained
from vmaf_predictor.factory import s2_corpus as corpus
from vmaf_predictor.factory import s3_train as train
from vmaf_predictor.runtime.features import OPTIONAL_GROUPS


def test_split_holds_out_a_fifth_and_covers_every_row_once():
    kept, held = training.split_indices(100, 0.2, seed=42)
    assert len(held) == 20 and len(kept) == 80
    assert sorted(kept + held) == list(range(100))


def test_split_is_seeded():
    assert training.split_indices(100, 0.2, 42) == training.split_indices(100, 0.2, 42)
    assert training.split_indices(100, 0.2, 42) != training.split_indices(100, 0.2, 43)


def test_split_holds_out_at_least_one_row_of_a_tiny_corpus():
    kept, held = training.split_indices(3, 0.2, seed=1)
    assert len(held) == 1 and len(kept) == 2


def test_split_refuses_a_single_row():
    with pytest.raises(ValueError, match="at least 2 rows"):
        training.split_indices(1, 0.2, seed=1)


def test_tree_sum_equals_the_sum_for_any_length():
    for n in (1, 2, 7, 14, 32, 64):
        values = torch.arange(1, n + 1, dtype=torch.float64).view(1, n)
        assert network.tree_sum(values, 1).item() == n * (n + 1) / 2


def test_exact_sqrt_is_correctly_rounded():
    values = [2.0, 3.0, 1e-300, 12345.678]
    got = training.exact_sqrt(torch.tensor(values, dtype=torch.float64)).tolist()
    assert got == [math.sqrt(v) for v in values]


def _autograd_reference(net, x, y):
    """The same network written with matmul and autograd (sums in any
    order): the gradient the hand-written one must equal."""
    theta = net.theta.clone().requires_grad_(True)
    p = net.parameters(theta)
    crf, others = x[:, :1], x[:, 1:]
    h = torch.relu(torch.relu(others @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"])
    level = h @ p["wf"] + p["bf"]
    weights = torch.relu(h @ p["wa"] + p["ba"])
    z = level - (weights * net.basis(crf)).sum(1, keepdim=True)
    vmaf = torch.clamp(net.target_mean + net.target_std * z, 0.0, 100.0)
    loss = ((vmaf.squeeze(1) - y) ** 2).mean()
    return loss.item(), torch.autograd.grad(loss, theta)[0]


def test_the_hand_written_gradient_is_the_gradient():
    gen = torch.Generator().manual_seed(0)
    net = network.MonotoneNet.initialised(8, 3, random.Random(0), (60.0, 15.0))
    x = torch.randn(19, 14, dtype=torch.float64, generator=gen)
    y = 100.0 * torch.rand(19, dtype=torch.float64, generator=gen)
    loss, grad = net.loss_and_gradient(x, y)
    ref_loss, ref_grad = _autograd_reference(net, x, y)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    assert torch.count_nonzero(grad) > grad.numel() // 2
    torch.testing.assert_close(grad, ref_grad, rtol=1e-10, atol=1e-12)


def test_rows_clipped_at_0_or_100_give_no_gradient():
    net = network.MonotoneNet.initialised(8, 3, random.Random(0), (1000.0, 1.0))
    x = torch.zeros(4, 14, dtype=torch.float64)
    loss, grad = net.loss_and_gradient(x, torch.full((4,), 50.0, dtype=torch.float64))
    assert loss == 2500.0 and torch.count_nonzero(grad) == 0


def test_predictions_do_not_depend_on_the_chunk_size():
    net = network.MonotoneNet.initialised(8, 3, random.Random(1), (60.0, 15.0))
    x = torch.randn(
        50, 14, dtype=torch.float64, generator=torch.Generator().manual_seed(2)
    )
    assert (
        net.predict(x, chunk=7) == net.predict(x) == net.forward(x).squeeze(1).tolist()
    )


def test_epochs_follow_the_row_count(settings):
    assert settings.max_steps == 20_000 and settings.batch_size == 32
    assert network.epochs_for(80, settings) == settings.epochs  # the stubs
    assert network.epochs_for(10_000, settings) == 20_000 // 313
    assert network.epochs_for(10_000_000, settings) == 1


def test_a_large_corpus_trains_at_most_max_steps_batches(x264, settings):
    few = dataclasses.replace(settings, max_steps=12)
    model = train.train("libx264", corpus.synthetic_columns(x264, 100), few)
    assert len(model.loss_curve) == 12 // 3  # 80 training rows: 3 batches


def test_normalisation_floors_a_constant_feature_std_to_one():
    mean, std = training.normalisation([[1.0, 5.0], [3.0, 5.0]])
    assert mean == [2.0, 5.0] and std == [1.0, 1.0]


def _weights_digest(model) -> str:
    return hashlib.sha256(json.dumps(model.weights).encode()).hexdigest()


def test_training_gives_identical_weights_in_another_process(x264, settings):
    short = dataclasses.replace(settings, epochs=20)
    here = train.train("libx264", corpus.synthetic_columns(x264, 100), short)
    there = python_output(f"""
        import hashlib, json, yaml
        from vmaf_predictor.factory import s2_corpus, s3_train
        from vmaf_predictor.factory.network import TrainSettings
        from vmaf_predictor.registry import registry_from_config
        codec = registry_from_config(yaml.safe_load(open("config.yaml")))["libx264"]
        settings = TrainSettings(**{dataclasses.asdict(short)!r})
        table = s2_corpus.synthetic_columns(codec, 100)
        model = s3_train.train("libx264", table, settings)
        print(hashlib.sha256(json.dumps(model.weights).encode()).hexdigest())
    """)
    assert there == _weights_digest(here)


def test_exported_weights_are_float32_values(trained_x264):
    for values in trained_x264.weights.values():
        flat = torch.tensor(values, dtype=torch.float64).flatten()
        assert torch.equal(flat, flat.float().double())


def test_training_learns_the_curve(trained_x264):
    assert trained_x264.loss_curve[-1] < trained_x264.loss_curve[0] / 100
    assert trained_x264.metrics["plcc"] > 0.95
    assert trained_x264.metrics["rmse"] < 3.0


def test_held_out_predictions_lie_in_0_100(trained_x264):
    assert all(0.0 <= p <= 100.0 for p in trained_x264.holdout_predictions)
    assert trained_x264.n_holdout == len(trained_x264.holdout_predictions) == 20


def test_trained_model_round_trips_through_json(trained_x264, tmp_path):
    trained.save(trained_x264, tmp_path / "m.json")
    assert trained.load(tmp_path / "m.json") == trained_x264


def test_crf_knots_are_spread_evenly_over_two_standard_deviations():
    assert network.crf_knots(5) == [-2.0, -1.0, 0.0, 1.0, 2.0]


def test_the_crf_basis_the_network_uses_never_decreases_with_crf():
    net = network.MonotoneNet.initialised(8, 3, random.Random(0))
    crf = torch.linspace(-4, 4, 81, dtype=torch.float64).unsqueeze(1)
    basis = net.basis(crf)
    assert basis.shape == (81, 7)
    assert torch.all(basis[1:] >= basis[:-1])


def test_an_untrained_network_is_already_monotone_in_crf():
    net = network.MonotoneNet.initialised(16, 4, random.Random(3))
    x = torch.zeros(41, 14, dtype=torch.float64)
    x[:, 0] = torch.linspace(-3, 3, 41, dtype=torch.float64)
    with torch.no_grad():
        vmaf = net.forward(x).squeeze(1)
    assert torch.all(vmaf[1:] <= vmaf[:-1])


def test_exact_log_is_within_a_rounding_of_the_true_log():
    values = np.exp(np.random.default_rng(0).uniform(0.0, 25.0, 10_000))
    ours = network.exact_log(values)
    libm = np.array([math.log(v) for v in values])
    assert np.max(np.abs(ours - libm) / libm.clip(1.0)) < 1e-15
    assert network.exact_log(np.array([1.0]))[0] == 0.0


def test_sizes_enter_the_network_as_logs_and_not_measured_stays_0():
    row = np.zeros((1, 14))
    row[0, :4] = [30.0, 3000.0, 0.0, 0.5]  # crf, bitrate, I bytes, P bytes
    columns = network.model_inputs(row)[0]
    position = network.MODEL_COLUMNS.index
    assert columns[position(0)] == 30.0  # crf stays linear, first
    assert columns[position(1)] == network.exact_log(np.array([3000.0]))[0]
    assert columns[position(2)] == columns[position(3)] == 0.0  # log(max(x, 1))


def test_a_left_out_measurement_leaves_out_its_whole_group():
    mask = training.unmeasured_mask(2000, 0.5, random.Random(1)).numpy()
    for group in OPTIONAL_GROUPS.values():
        positions = [network.MODEL_COLUMNS.index(i) for i in group]
        assert (mask[:, positions] == mask[:, positions[:1]]).all()
        assert 0.45 < mask[:, positions[0]].mean() < 0.55
    always = [network.MODEL_COLUMNS.index(i) for i in (0, 1, 10, 11, 12, 13)]
    assert not mask[:, always].any()


def test_training_reports_the_error_with_optional_features_left_out(trained_x264):
    assert 0.0 < trained_x264.metrics["rmse_unmeasured"] < 3.0


def test_the_train_jobs_resources_follow_rows_and_trainings(settings, config):
    from vmaf_predictor.factory.network import train_job_resources

    stub = train_job_resources(100, settings, None)
    real = train_job_resources(100, settings, config["evaluation"])
    large = train_job_resources(100_000, settings, config["evaluation"])
    assert real["runtime"] > stub["runtime"]  # 52 trainings instead of 1
    assert large["mem_mb"] > real["mem_mb"] and large["runtime"] > real["runtime"]
