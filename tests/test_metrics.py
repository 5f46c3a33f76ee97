import math

import pytest

from vmaf_predictor.runtime import metrics


def test_plcc_of_a_linear_relation_is_one():
    assert metrics.plcc([1, 2, 3, 4], [3, 5, 7, 9]) == pytest.approx(1.0)


def test_plcc_of_a_reversed_relation_is_minus_one():
    assert metrics.plcc([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_plcc_of_a_constant_side_is_zero():
    assert metrics.plcc([1, 2, 3], [5, 5, 5]) == 0.0


def test_tied_values_share_their_average_rank():
    assert metrics.average_ranks([10, 20, 20, 30]) == [1.0, 2.5, 2.5, 4.0]


def test_srocc_uses_average_ranks_for_ties():
    # Spearman with ties = Pearson of average ranks: ranks [1, 2.5, 2.5, 4] vs [1..4].
    expected = metrics.plcc([1, 2.5, 2.5, 4], [1, 2, 3, 4])
    assert metrics.srocc([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(expected)
    assert expected == pytest.approx(0.9486832980505138)


def test_srocc_ignores_monotone_distortion():
    x = [0.5, 1.0, 2.0, 4.0, 8.0]
    assert metrics.srocc(x, [math.exp(v) for v in x]) == pytest.approx(1.0)


def test_rmse_is_in_the_units_of_the_inputs():
    assert metrics.rmse([90, 80], [93, 84]) == pytest.approx(math.sqrt((9 + 16) / 2))


def test_metrics_reject_mismatched_or_empty_inputs():
    with pytest.raises(ValueError, match="length mismatch"):
        metrics.rmse([1, 2], [1])
    with pytest.raises(ValueError, match="at least one row"):
        metrics.plcc([], [])


def test_max_abs_error_is_the_largest_miss_either_way():
    assert metrics.max_abs_error([1.0, 5.0, 2.0], [2.0, 1.0, 2.0]) == 4.0


def test_mean_signed_error_is_positive_when_predictions_run_high():
    assert metrics.mean_signed_error([3.0, 5.0], [1.0, 5.0]) == 1.0
