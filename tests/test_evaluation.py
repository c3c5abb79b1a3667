import numpy as np
import pytest

from stages.lib.errors import PipelineError
from stages.lib.evaluation import (
    check_skill,
    classification_scores,
    fold_summary,
    predict_classes,
    regression_scores,
    skill_over,
)


def test_multiclass_scores():
    y = np.array([0, 1, 2, 2])
    probabilities = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.2, 0.7], [0.6, 0.2, 0.2]])
    scores = classification_scores(y, probabilities, [0, 1, 2])
    assert scores["accuracy"] == 0.75
    assert scores["recall"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert 0 < scores["log_loss"] < 1 and 0.5 < scores["roc_auc"] <= 1 and 0 < scores["pr_auc"] <= 1


def test_binary_scores_from_a_sigmoid_column_or_two_probability_columns():
    y, p_one = np.array([0, 1, 1, 0]), np.array([0.1, 0.9, 0.4, 0.3])
    scores = classification_scores(y, p_one.reshape(-1, 1), [0, 1])
    assert scores["accuracy"] == 0.75 and scores["roc_auc"] == 1.0 and scores["pr_auc"] == 1.0
    assert scores["recall"] == 0.5 and scores["precision"] == 1.0
    assert classification_scores(y, np.column_stack([1 - p_one, p_one]), [0, 1]) == scores


def test_binary_scores_about_the_positive_class():
    y, p_one = np.array([0, 0, 1, 1, 1, 1]), np.array([0.6, 0.2, 0.9, 0.8, 0.7, 0.4])
    scores = classification_scores(y, p_one.reshape(-1, 1), [0, 1], positive_class=0)
    assert scores["recall"] == 0.5 and scores["precision"] == 0.5  # class 0: one of two found, one of two right


def test_a_constant_predictor_has_the_positive_rate_as_pr_auc():
    y = np.array([0] * 9 + [1])
    scores = classification_scores(y, np.full((10, 1), 0.1), [0, 1], positive_class=1)
    assert scores["pr_auc"] == pytest.approx(0.1)


def test_regression_scores():
    scores = regression_scores(np.array([1.0, 2.0, 3.0]), np.array([[1.0], [2.0], [5.0]]))
    assert scores["mae"] == pytest.approx(2 / 3) and scores["mse"] == pytest.approx(4 / 3)
    assert scores["rmse"] == pytest.approx(np.sqrt(4 / 3))


def test_predict_classes_sigmoid_and_softmax():
    assert predict_classes(np.array([[0.2], [0.7]])).tolist() == [0, 1]
    assert predict_classes(np.array([[0.2, 0.8], [0.9, 0.1]])).tolist() == [1, 0]


def test_fold_summary_is_mean_and_std_of_numbers():
    summary = fold_summary([{"a": 1.0, "flag": True, "n": 2}, {"a": 3.0, "flag": False, "n": 4}])
    assert summary == {"mean": {"a": 2.0, "n": 3.0}, "std": {"a": 1.0, "n": 1.0}}


def test_skill_closes_a_share_of_the_gap_to_perfect():
    assert skill_over(0.98, 0.1, greater_is_better=True) == pytest.approx(0.88 / 0.9)
    assert skill_over(40.0, 60.0, greater_is_better=False) == pytest.approx(1 / 3)
    assert skill_over(0.5, 1.0, greater_is_better=True) == 0.0


def test_too_little_skill_stops_the_pipeline():
    task = {"primary_metric": "mae", "greater_is_better": False}
    assert check_skill(task, 40.0, 60.0, "mean", 0.2) == pytest.approx(1 / 3)
    with pytest.raises(PipelineError, match=r"test mae 55.0000 against the mean baseline's 60.0000 closes 8.3% "):
        check_skill(task, 55.0, 60.0, "mean", 0.2)
