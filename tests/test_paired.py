"""Paired tests of two models on the same examples: exact McNemar, paired bootstrap, and the comparison."""
import numpy as np
import pytest

from stages.lib.evaluation import task_scores
from stages.lib.paired import bootstrap_p_value, compare_models, mcnemar_p
from stages.lib.task import define_task
from tests.conftest import classification_task

TEN_CLASSES = classification_task(10)
REGRESSION = define_task("x", "regression", None, 3.0)


def outcomes(lost: int, won: int, both: int = 50):
    """Per-example correctness of a reference and a candidate: `lost` examples only the reference
    gets right, `won` only the candidate, `both` both."""
    reference = [True] * lost + [False] * won + [True] * both
    candidate = [False] * lost + [True] * won + [True] * both
    return reference, candidate


def test_mcnemar_is_the_exact_binomial_tail_of_the_discordant_pairs():
    assert mcnemar_p(*outcomes(10, 0)) == pytest.approx(0.5 ** 10)
    assert mcnemar_p(*outcomes(8, 2)) == pytest.approx((45 + 10 + 1) / 1024)  # P(X >= 8), X ~ Bin(10, 1/2)
    assert mcnemar_p(*outcomes(1, 0)) == pytest.approx(0.5)  # one example is never evidence
    assert mcnemar_p(*outcomes(0, 0)) == 1.0
    assert mcnemar_p(*outcomes(0, 10)) == pytest.approx(1.0)  # one-sided: a better candidate is not worse


def test_the_bootstrap_p_value_is_the_share_of_resamples_not_worse_and_never_zero():
    assert bootstrap_p_value(np.full(999, 0.1)) == pytest.approx(1 / 1000)
    assert bootstrap_p_value(np.r_[np.full(500, 0.1), np.full(499, -0.1)]) == pytest.approx(500 / 1000)
    assert bootstrap_p_value(np.r_[np.full(9, 0.1), np.nan]) == pytest.approx(1 / 10)  # undefined resamples skipped


def one_hot(labels, n_classes=10):
    return np.eye(n_classes)[labels] * 0.9 + 0.01


def test_one_wrong_example_in_69_is_not_significant():
    """The case that used to fail the pipeline: 1.45 points of accuracy, one example."""
    y = np.arange(69) % 10
    flipped = y.copy()
    flipped[0] = 1
    result = compare_models(TEN_CLASSES, "accuracy", y, one_hot(y), one_hot(flipped), seed=0)
    assert result["difference"] == pytest.approx(1 / 69) and result["one_example"] == pytest.approx(1 / 69)
    assert result["p_value"] == pytest.approx(0.5)
    assert result["ci_low"] <= 0 < result["difference"] <= result["ci_high"]


def test_many_wrong_examples_are_significant_and_the_difference_is_the_scores_difference():
    y = np.arange(200) % 10
    worse = y.copy()
    worse[:30] = (worse[:30] + 1) % 10
    result = compare_models(TEN_CLASSES, "accuracy", y, one_hot(y), one_hot(worse), seed=0)
    expected = (task_scores(TEN_CLASSES, y, one_hot(y))["accuracy"] -
                task_scores(TEN_CLASSES, y, one_hot(worse))["accuracy"])
    assert result["difference"] == pytest.approx(expected) == pytest.approx(0.15)
    assert result["p_value"] == pytest.approx(0.5 ** 30) and 0.08 < result["ci_low"] < 0.15 < result["ci_high"] < 0.22


def test_errors_are_compared_by_the_paired_bootstrap_lower_being_better():
    rng = np.random.default_rng(0)
    y = rng.normal(1e5, 1e4, 300)
    close, far = y + rng.normal(0, 100, 300), y + rng.normal(0, 200, 300)
    worse = compare_models(REGRESSION, "mae", y, close, far, seed=0)
    gap = np.mean(np.abs(far - y)) - np.mean(np.abs(close - y))
    assert worse["difference"] == pytest.approx(gap) and worse["ci_low"] < gap < worse["ci_high"]
    assert worse["p_value"] < 0.01 and worse["ci_low"] > 0
    assert worse["one_example"] == pytest.approx(np.max(np.abs(np.abs(far - y) - np.abs(close - y))) / 300)
    better = compare_models(REGRESSION, "mae", y, far, close, seed=0)
    assert better["difference"] == pytest.approx(-gap) and better["p_value"] > 0.99


def test_pr_auc_of_a_baseline_with_two_probability_columns_against_a_sigmoid():
    task = define_task("x", "classification", {0: 4, 1: 1}, 3.0)  # scored on the minority class 1's PR-AUC
    rng = np.random.default_rng(0)
    y = (rng.random(120) < 0.2).astype(int)
    model = np.clip(y * 0.6 + rng.random(120) * 0.5, 0, 1).reshape(-1, 1)
    prior = np.tile([0.8, 0.2], (120, 1))  # DummyClassifier(strategy="prior").predict_proba
    result = compare_models(task, "pr_auc", y, model, prior, seed=0)
    expected = task_scores(task, y, model)["pr_auc"] - task_scores(task, y, prior)["pr_auc"]
    assert result["difference"] == pytest.approx(expected) and result["p_value"] < 0.01
    assert result["one_example"] == pytest.approx(1 / y.sum())
