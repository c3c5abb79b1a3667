"""Intervals from the test examples: a seeded bootstrap that scores every resample at once.

A resample is a row of counts (how often each example was drawn), so every score here is a
weighted score, and a thousand resamples are a few matrix products instead of a thousand
scikit-learn calls (17 ms each on 360 digits: 17 s per model). tests/test_intervals.py checks
each one against scikit-learn's own score with the same sample weights.
"""
import warnings

import numpy as np
from scipy.stats import binomtest
from scipy.stats import t as student_t

from stages.lib.evaluation import in_range, numeric_keys, one_column_if_binary, predict_classes
from stages.lib.task import Task

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 1000
_CELLS_PER_CHUNK = 2_000_000  # resamples x examples scored together: bounds memory whatever the test set's size


def resample_counts(n: int, samples: int, seed: int):
    """`samples` bootstrap resamples of n examples, as rows of draw counts, in chunks; the same for the same seed."""
    rng = np.random.default_rng(seed)
    chunk = max(1, min(samples, _CELLS_PER_CHUNK // n))
    for start in range(0, samples, chunk):
        rows = min(chunk, samples - start)
        drawn = rng.integers(0, n, size=(rows, n)) + n * np.arange(rows)[:, None]
        yield np.bincount(drawn.ravel(), minlength=rows * n).reshape(rows, n).astype(np.float64)


def _ratio(numerator, denominator, empty=np.nan):
    numerator, denominator = np.broadcast_arrays(np.asarray(numerator, float), np.asarray(denominator, float))
    return np.divide(numerator, denominator, out=np.full(numerator.shape, empty), where=denominator > 0)


def _grouped(weights, score, is_positive, descending: bool):
    """Positive and negative weight per distinct score, in score order: (B, groups) arrays each."""
    order = np.argsort(-score if descending else score, kind="mergesort")
    ordered = score[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    w, positive = weights[:, order], is_positive[order]
    if len(starts) == len(score):  # no ties: every example is its own group
        return w * positive, w * ~positive
    return np.add.reduceat(w * positive, starts, axis=1), np.add.reduceat(w * ~positive, starts, axis=1)


def weighted_auc(is_positive, score, weights):
    """ROC AUC per row of `weights`: the weighted share of (positive, negative) pairs ranked right, ties half."""
    positive, negative = _grouped(weights, score, is_positive, descending=False)
    below = np.cumsum(negative, axis=1) - negative
    return _ratio((positive * (below + negative / 2)).sum(axis=1), positive.sum(axis=1) * negative.sum(axis=1))


def weighted_average_precision(is_positive, score, weights):
    """Average precision per row of `weights`: precision at each distinct threshold, weighted by the recall it adds;
    0 without positives, as scikit-learn counts an absent class."""
    positive, negative = _grouped(weights, score, is_positive, descending=True)
    true_pos = np.cumsum(positive, axis=1)
    precision = _ratio(true_pos, true_pos + np.cumsum(negative, axis=1), empty=0.0)
    return _ratio((positive * precision).sum(axis=1), positive.sum(axis=1), empty=0.0)


def _precision_recall_f1(actual, predicted, weights):
    true_pos = weights @ (actual & predicted)
    false_pos, false_neg = weights @ (~actual & predicted), weights @ (actual & ~predicted)
    return (_ratio(true_pos, true_pos + false_pos, 0.0), _ratio(true_pos, true_pos + false_neg, 0.0),
            _ratio(2 * true_pos, 2 * true_pos + false_pos + false_neg, 0.0))


def _classification(task: Task, y_true, output, weights) -> dict:
    classes = task.classes
    output = np.asarray(output)
    # scikit-learn's log loss clips probabilities at the epsilon of the output's own type (float32 for a model)
    eps = np.finfo(output.dtype if output.dtype.kind == "f" else np.float64).eps
    probabilities = one_column_if_binary(output.astype(np.float64).reshape(len(y_true), -1), classes)
    predicted = predict_classes(probabilities)
    total = weights.sum(axis=1)
    if task.is_binary:
        positive = task.positive
        p_one = probabilities[:, 0]
        precision, recall, f1 = _precision_recall_f1(y_true == positive, predicted == positive, weights)
        auc = weighted_auc(y_true == 1, p_one, weights)
        pr_auc = weighted_average_precision(y_true == positive, p_one if positive == 1 else 1 - p_one, weights)
        p_true = np.clip(np.where(y_true == 1, p_one, 1 - p_one), eps, 1 - eps)
    else:
        per_class = [_precision_recall_f1(y_true == c, predicted == i, weights) for i, c in enumerate(classes)]
        precision, recall, f1 = (np.mean([scores[k] for scores in per_class], axis=0) for k in range(3))
        # macro averages as scikit-learn takes them: an absent class makes the AUC undefined (NaN), its AP 0
        auc = np.mean([weighted_auc(y_true == c, probabilities[:, i], weights) for i, c in enumerate(classes)], axis=0)
        pr_auc = np.mean([weighted_average_precision(y_true == c, probabilities[:, i], weights)
                          for i, c in enumerate(classes)], axis=0)
        clipped = np.clip(probabilities, eps, 1 - eps)  # then rows summed to 1 again, as scikit-learn does
        p_true = clipped[np.arange(len(y_true)), np.searchsorted(classes, y_true)] / clipped.sum(axis=1)
    log_loss = weights @ -np.log(p_true) / total
    return {"accuracy": weights @ (predicted == y_true) / total, "precision": precision, "recall": recall, "f1": f1,
            "roc_auc": auc, "pr_auc": pr_auc, "log_loss": log_loss}


def _regression(y_true, predicted, weights) -> dict:
    total = weights.sum(axis=1)
    errors = y_true - np.asarray(predicted, float).reshape(-1)
    squared = weights @ errors ** 2
    centred = (weights * (y_true[None, :] - (weights @ y_true / total)[:, None]) ** 2).sum(axis=1)
    mse = squared / total
    return {"mae": weights @ np.abs(errors) / total, "mse": mse, "rmse": np.sqrt(mse),
            "r2": 1 - _ratio(squared, centred, empty=1.0)}


def weighted_scores(task: Task, y_true, output, weights) -> dict:
    """Every stages.lib.evaluation.task_scores metric for each row of `weights` (counts per example)."""
    y_true, weights = np.asarray(y_true), np.atleast_2d(np.asarray(weights, float))
    if task.is_regression:
        return _regression(y_true.astype(float), output, weights)
    return _classification(task, y_true, output, weights)


def bootstrap_scores(task: Task, y_true, outputs: list, samples: int, seed: int) -> list:
    """Each output's scores on the same `samples` resamples of the examples: [{metric: array}] in outputs' order.
    A score a resample leaves undefined (an AUC without one of the classes) is NaN there."""
    with np.errstate(invalid="ignore", divide="ignore"):
        chunks = [[weighted_scores(task, y_true, output, counts) for output in outputs]
                  for counts in resample_counts(len(y_true), samples, seed)]
    return [{metric: np.concatenate([chunk[i][metric] for chunk in chunks]) for metric in chunks[0][i]}
            for i in range(len(outputs))]


def percentile_interval(values, confidence: float = CONFIDENCE) -> tuple:
    """The percentile interval of resampled values, leaving out resamples where the score is undefined."""
    tail = (1 - confidence) / 2 * 100
    with warnings.catch_warnings():  # every resample undefined: the interval is too (NaN, NaN)
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanpercentile(values, [tail, 100 - tail])
    return float(low), float(high)


def wilson_interval(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple:
    """The Wilson score interval of a proportion: sensible at 0% and 100% too, where a bootstrap collapses."""
    interval = binomtest(int(successes), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)


def score_intervals(task: Task, y_true, outputs: list, samples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> list:
    """A 95% interval for every metric of each output's scores, on the same resamples: Wilson for accuracy
    (a proportion), the percentile bootstrap over the examples for the rest, each within the metric's range
    (stages.lib.evaluation.METRIC_RANGES). [{metric: (low, high)}]."""
    results = []
    for output, resampled in zip(outputs, bootstrap_scores(task, y_true, outputs, samples, seed)):
        intervals = {metric: in_range(metric, *percentile_interval(values)) for metric, values in resampled.items()}
        if "accuracy" in intervals:
            right = weighted_scores(task, y_true, output, np.ones(len(y_true)))["accuracy"][0] * len(y_true)
            intervals["accuracy"] = wilson_interval(round(right), len(y_true))
        results.append(intervals)
    return results


def fold_interval(values, metric: str = "", confidence: float = CONFIDENCE):
    """Student's t interval of the mean of per-fold scores, None for a single fold. Folds share training
    examples, so it is an approximation (on the narrow side), as every cross-validation interval is.

    Student's t knows no bounds (folds at 0.99, 1, 1 reach past 1), so the interval is clipped into the
    range of `metric` (stages.lib.evaluation.METRIC_RANGES: accuracy at most 1, MAE at least 0, ...);
    a name outside them (epochs_trained) is left unclipped."""
    values = np.asarray(values, float)
    if len(values) < 2:
        return None
    spread = values.std(ddof=1) / np.sqrt(len(values))
    if spread == 0:
        return float(values.mean()), float(values.mean())
    return in_range(metric, *student_t.interval(confidence, len(values) - 1, loc=values.mean(), scale=spread))


def with_intervals(scores: dict, intervals: dict, prefix: str = "") -> dict:
    """{prefix+metric: score, prefix+metric_ci_low: ..., prefix+metric_ci_high: ...} in metric order."""
    flat = {}
    for metric, score in scores.items():
        flat[f"{prefix}{metric}"] = score
        if intervals.get(metric) is not None:
            flat[f"{prefix}{metric}_ci_low"], flat[f"{prefix}{metric}_ci_high"] = intervals[metric]
    return flat


def cross_validated_intervals(task: Task, fold_scores: list, fold_outputs: list, seed: int) -> dict:
    """A 95% interval for each cross-validated score, within the metric's range: Student's t over the folds,
    clipped, or with a single (hold-out) validation split, score_intervals over its examples."""
    if len(fold_scores) > 1:
        return {k: fold_interval([row[k] for row in fold_scores], k) for k in numeric_keys(fold_scores[0])}
    y_true, output = fold_outputs[0]
    return score_intervals(task, y_true, [output], seed=seed)[0]


def with_interval(value: float, low: float, high: float) -> str:
    """A score as the project prints it: 0.9806 [0.9605, 0.9906]."""
    return f"{value:.4g} [{low:.4g}, {high:.4g}]"
