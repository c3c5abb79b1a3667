"""Intervals: the vectorized weighted scores against scikit-learn's, the intervals, and the verdicts."""
import dataclasses

import numpy as np
import pytest
from sklearn.metrics import (accuracy_score, average_precision_score, log_loss, mean_absolute_error,
                             mean_squared_error, precision_recall_fscore_support, r2_score, roc_auc_score)
from sklearn.preprocessing import label_binarize

from stages.lib.evaluation import METRIC_RANGES, predict_classes, task_scores
from stages.lib.intervals import (cross_validated_intervals, fold_interval, score_intervals, weighted_scores,
                                  wilson_interval, with_intervals)
from stages.lib.paired import judge_change, paired_changes
from stages.lib.task import define_task

# positive_class None: a task.json from before binary tasks named it, scored on class 1
BINARY = dataclasses.replace(define_task("x", "classification", {0: 1, 1: 1}, 3.0), positive_class=None)
BINARY_ZERO = dataclasses.replace(BINARY, positive_class=0)
THREE = define_task("x", "classification", {0: 1, 1: 1, 2: 1}, 3.0)
REGRESSION = define_task("x", "regression", None, 3.0)


def sklearn_scores(task, y, output, w):
    """task_scores' metrics computed by scikit-learn with sample weights."""
    if task.is_regression:
        mse = mean_squared_error(y, output, sample_weight=w)
        return {"mae": mean_absolute_error(y, output, sample_weight=w), "mse": mse, "rmse": np.sqrt(mse),
                "r2": r2_score(y, output, sample_weight=w)}
    if len(task.classes) == 2:
        p_one = output[:, 0]
        positive = 1 if task.positive_class is None else task.positive_class
        predicted = (p_one > 0.5).astype(int)
        p, r, f, _ = precision_recall_fscore_support(y, predicted, labels=[positive], average="binary",
                                                     pos_label=positive, zero_division=0, sample_weight=w)
        return {"accuracy": accuracy_score(y, predicted, sample_weight=w), "precision": p, "recall": r, "f1": f,
                "roc_auc": roc_auc_score(y, p_one, sample_weight=w),
                "pr_auc": average_precision_score(y == positive, p_one if positive == 1 else 1 - p_one,
                                                  sample_weight=w),
                "log_loss": log_loss(y, p_one, sample_weight=w, labels=[0, 1])}
    predicted = predict_classes(output)
    p, r, f, _ = precision_recall_fscore_support(y, predicted, labels=task.classes, average="macro",
                                                 zero_division=0, sample_weight=w)
    return {"accuracy": accuracy_score(y, predicted, sample_weight=w), "precision": p, "recall": r, "f1": f,
            "roc_auc": roc_auc_score(y, output, multi_class="ovr", labels=task.classes, sample_weight=w),
            "pr_auc": average_precision_score(label_binarize(y, classes=task.classes), output, average="macro",
                                              sample_weight=w),
            "log_loss": log_loss(y, output, labels=task.classes, sample_weight=w)}


def example_data(task, n, rng):
    if task.is_regression:
        y = rng.normal(10, 3, n)
        return y, (y + rng.normal(0, 2, n)).reshape(-1, 1)
    k = len(task.classes)
    y = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k)) + 1.5 * np.eye(k)[y]
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    probabilities = np.round(probabilities, 2)  # ties in the scores, as real outputs have
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return y, probabilities[:, 1:] if k == 2 else probabilities


@pytest.mark.parametrize("task", [BINARY, BINARY_ZERO, THREE, REGRESSION], ids=["binary", "positive0", "three", "regr"])
def test_weighted_scores_are_scikit_learns_with_the_same_sample_weights(task):
    rng = np.random.default_rng(3)
    y, output = example_data(task, 80, rng)
    weights = rng.multinomial(80, np.full(80, 1 / 80), size=5).astype(float)
    vectorized = weighted_scores(task, y, output, weights)
    for row, w in enumerate(weights):
        expected = sklearn_scores(task, y, output if not task.is_regression else output[:, 0], w)
        for metric, value in expected.items():
            assert vectorized[metric][row] == pytest.approx(value, rel=1e-9, abs=1e-12), (metric, row)


@pytest.mark.parametrize("task", [BINARY, THREE, REGRESSION], ids=["binary", "three", "regr"])
def test_unit_weights_give_task_scores(task):
    y, output = example_data(task, 60, np.random.default_rng(0))
    ones = weighted_scores(task, y, output, np.ones(60))
    for metric, value in task_scores(task, y, output).items():
        assert ones[metric][0] == pytest.approx(value, rel=1e-9), metric


def test_a_models_float32_output_and_an_absent_class_score_as_scikit_learn_scores_them():
    """A Keras model's probabilities are float32: log loss clips at float32's epsilon, and a confident
    mistake costs -log(1.2e-7), not -log(2.2e-16). A class missing from the examples: AP 0, AUC undefined."""
    four = define_task("x", "classification", {0: 1, 1: 1, 2: 1, 3: 1}, 3.0)
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    output = np.full((8, 4), 1e-12, dtype=np.float32)
    output[np.arange(8), (y + 1) % 3] = 1.0  # every answer confidently wrong
    output[:4, :] = np.eye(4, dtype=np.float32)[y[:4]]
    ones = weighted_scores(four, y, output, np.ones(8))
    with pytest.warns(UserWarning):  # scikit-learn warns of the absent class
        expected = task_scores(four, y, output)
    for metric in ("log_loss", "pr_auc", "accuracy", "f1"):
        assert ones[metric][0] == pytest.approx(expected[metric], rel=1e-6), metric
    assert np.isnan(expected["roc_auc"]) and np.isnan(ones["roc_auc"][0])
    assert score_intervals(four, y, [output], samples=50)[0]["roc_auc"] != (0.0, 0.0)  # NaN, NaN: no crash


def test_score_intervals_hold_the_score_and_narrow_with_more_examples():
    rng = np.random.default_rng(1)
    small, large = example_data(BINARY, 100, rng), example_data(BINARY, 2000, rng)
    intervals = score_intervals(BINARY, small[0], [small[1]], samples=400, seed=0)[0]
    scores = task_scores(BINARY, *small)
    for metric, (low, high) in intervals.items():
        assert low <= scores[metric] <= high, metric
    assert intervals == score_intervals(BINARY, small[0], [small[1]], samples=400, seed=0)[0]  # seeded
    wide, narrow = intervals["roc_auc"], score_intervals(BINARY, large[0], [large[1]], samples=400)[0]["roc_auc"]
    assert narrow[1] - narrow[0] < (wide[1] - wide[0]) / 2
    # accuracy is a proportion: Wilson's interval, which stays open at 100%
    right = round(scores["accuracy"] * 100)
    assert intervals["accuracy"] == pytest.approx(wilson_interval(right, 100))
    assert wilson_interval(360, 360)[0] == pytest.approx(0.9894, abs=1e-4) and wilson_interval(360, 360)[1] == 1.0


def test_resamples_are_seeded_draws_of_n_examples_in_memory_bounded_chunks(monkeypatch):
    from stages.lib import intervals

    monkeypatch.setattr(intervals, "_CELLS_PER_CHUNK", 250)
    chunks = list(intervals.resample_counts(50, 12, seed=3))
    assert [len(c) for c in chunks] == [5, 5, 2]
    counts = np.concatenate(chunks)
    assert (counts.sum(axis=1) == 50).all() and counts.max() > 1 and (counts == 0).any()
    assert np.array_equal(counts, np.concatenate(list(intervals.resample_counts(50, 12, seed=3))))


def test_fold_interval_is_students_t_over_the_folds():
    low, high = fold_interval([0.80, 0.82, 0.84])
    assert (low + high) / 2 == pytest.approx(0.82)
    assert high - low == pytest.approx(2 * 4.302653 * 0.02 / np.sqrt(3), rel=1e-5)  # t(0.975, 2) = 4.3027
    assert fold_interval([0.9]) is None
    assert fold_interval([0.5, 0.5]) == (0.5, 0.5)


def within(metric, interval):
    lowest, highest = METRIC_RANGES[metric]
    return (lowest is None or interval[0] >= lowest) and (highest is None or interval[1] <= highest)


def near_the_bounds(metric, folds=15):
    """Per-fold scores at the metric's bound but one fold (Penguins: 14 folds at accuracy 1, one at 0.96),
    where Student's t reaches past the bound; R², bounded above only, also far below zero."""
    lowest, highest = METRIC_RANGES[metric]
    if highest is not None:
        values = np.full(folds, highest)
        values[0] = highest - (2.0 if lowest is None else 0.04)
    else:
        values = np.full(folds, lowest)
        values[0] = lowest + 0.04
    return values


@pytest.mark.parametrize("metric", sorted(METRIC_RANGES))
def test_fold_intervals_are_clipped_into_the_metrics_range(metric):
    values = near_the_bounds(metric)
    unclipped = fold_interval(values)
    assert not within(metric, unclipped)  # Student's t alone leaves the range: the case of the issue
    low, high = fold_interval(values, metric)
    assert within(metric, (low, high)) and low <= values.mean() <= high
    lowest, highest = METRIC_RANGES[metric]
    assert (low, high) == (max(unclipped[0], lowest if lowest is not None else -np.inf),
                           min(unclipped[1], highest if highest is not None else np.inf))
    assert fold_interval(values, f"test_{metric}") == (low, high)


@pytest.mark.parametrize("task", [BINARY, BINARY_ZERO, THREE, REGRESSION], ids=["binary", "positive0", "three", "regr"])
def test_every_interval_of_every_protocol_is_within_the_metrics_range(task):
    """Several folds (Student's t over the folds) and a single hold-out fold (Wilson, the bootstrap), for
    every metric the task scores, on near-perfect predictions whose scores sit at the bounds."""
    rng = np.random.default_rng(5)
    y, output = example_data(task, 60, rng)
    if task.is_regression:
        output = (y + rng.normal(0, 1e-3, 60)).reshape(-1, 1)
    else:
        k = len(task.classes)
        perfect = np.eye(k)[y] * 0.98 + 0.02 / k
        output = perfect[:, 1:] if k == 2 else perfect
    folds = [task_scores(task, y, output) for _ in range(14)]
    folds.append(task_scores(task, y[::-1], output))  # one fold far worse
    for protocol, intervals in (("folds", cross_validated_intervals(task, folds, [(y, output)] * 15, seed=0)),
                                ("holdout", cross_validated_intervals(task, folds[:1], [(y, output)], seed=0)),
                                ("test", score_intervals(task, y, [output], samples=200)[0])):
        assert set(intervals) == set(folds[0]), protocol
        for metric, interval in intervals.items():
            assert within(metric, interval), (protocol, metric, interval)
    proportions = [m for m in folds[0] if METRIC_RANGES[m] == (0.0, 1.0)]  # at 1 here: intervals end at the bound
    assert all(score_intervals(task, y, [output], samples=200)[0][m][1] == 1.0 for m in proportions)


def test_with_intervals_flattens_in_metric_order():
    flat = with_intervals({"accuracy": 0.9, "f1": 0.8}, {"accuracy": (0.85, 0.95), "f1": None}, prefix="test_")
    assert list(flat) == ["test_accuracy", "test_accuracy_ci_low", "test_accuracy_ci_high", "test_f1"]


def test_paired_changes_see_a_small_real_change_that_separate_intervals_cannot():
    """Two models that differ on 12 of 1000 examples, always to the candidate's loss: separate intervals
    overlap widely, the paired interval does not reach zero."""
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 1000)
    reference = np.where(rng.random(1000) < 0.85, y, 1 - y).astype(float).reshape(-1, 1) * 0.8 + 0.1
    candidate = reference.copy()
    right = np.flatnonzero(predict_classes(reference) == y)[:12]
    candidate[right] = 1 - candidate[right]
    change = paired_changes(BINARY, y, reference, candidate, samples=1000, seed=0)["accuracy"]
    assert change["difference"] == pytest.approx(-0.012)
    low, high = np.percentile(change["resampled"], [2.5, 97.5])
    assert high < 0
    separate = [intervals["accuracy"] for intervals in score_intervals(BINARY, y, [reference, candidate], samples=200)]
    assert separate[1][1] > separate[0][0]  # the two intervals overlap


def test_verdicts():
    assert judge_change("accuracy", -0.02, (-0.03, -0.01))["verdict"] == "worse"
    assert judge_change("accuracy", 0.02, (0.01, 0.03))["verdict"] == "better"
    assert judge_change("log_loss", 0.02, (0.01, 0.03))["verdict"] == "worse"  # lower is better
    assert judge_change("test_mae", -5.0, (-8.0, -2.0))["verdict"] == "better"
    assert judge_change("accuracy", -0.02, (-0.05, 0.01))["verdict"] == "within noise"
    # a skewed bootstrap can leave the point estimate outside its percentile interval: the interval stands
    assert judge_change("test_roc_auc", 0.001, (0.002, 0.01)) == pytest.approx(
        {"difference": 0.001, "ci_low": 0.001, "ci_high": 0.01, "verdict": "better"})
    # smaller than one test example can make: not a finding, whatever the interval says
    assert judge_change("accuracy", -0.002, (-0.003, -0.001), resolution=1 / 360)["verdict"] == "within noise"
    # seed-to-seed spread widens the interval: 0.01 seed std turns a clear drop into noise
    widened = judge_change("accuracy", -0.02, (-0.03, -0.01), seed_std=0.01)
    assert widened["verdict"] == "within noise"
    assert widened["ci_low"] == pytest.approx(-0.02 - np.hypot(0.01, 1.959964 * np.sqrt(2) * 0.01), rel=1e-5)
