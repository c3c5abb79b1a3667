"""Paired tests: two models scored on the same examples; is one of them really worse?

A test set of a few dozen examples moves a score by whole points when one prediction
changes, so a bare difference of scores says little. Both tests here look at the same
examples through both models, and answer one-sided: how likely is a difference at least
this bad if the candidate were in truth no worse than the reference?
"""
import numpy as np
from scipy.stats import binomtest, norm

from stages.lib.evaluation import correct, greater_is_better, one_example, task_scores
from stages.lib.intervals import BOOTSTRAP_RESAMPLES, CONFIDENCE, bootstrap_scores, percentile_interval
from stages.lib.task import Task


def mcnemar_p(reference_correct, candidate_correct) -> float:
    """Exact one-sided McNemar test that the candidate is less accurate than the reference.

    Only the discordant examples count (one model right, the other wrong); with no real
    difference each is equally likely to go either way, so the count the candidate lost is
    Binomial(discordant, 1/2).
    """
    reference, candidate = np.asarray(reference_correct, bool), np.asarray(candidate_correct, bool)
    lost, won = int(np.sum(reference & ~candidate)), int(np.sum(~reference & candidate))
    if lost + won == 0:
        return 1.0
    return float(binomtest(lost, lost + won, 0.5, alternative="greater").pvalue)


def bootstrap_p_value(shortfalls) -> float:
    """One-sided p-value that a shortfall is in truth not positive: the share of resamples where it is
    not (plus one, so never zero); resamples where the metric is undefined do not count."""
    shortfalls = np.asarray(shortfalls)[~np.isnan(shortfalls)]
    return float((1 + np.sum(shortfalls <= 0)) / (len(shortfalls) + 1))


def paired_changes(task: Task, y_true, reference, candidate, samples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> dict:
    """For every metric: the candidate's score minus the reference's on the same examples, and that
    difference on each of `samples` paired resamples (both models keep the same resampled examples)."""
    reference_scores, candidate_scores = (task_scores(task, y_true, output) for output in (reference, candidate))
    resampled = bootstrap_scores(task, y_true, [reference, candidate], samples, seed)
    return {metric: {"difference": float(candidate_scores[metric] - reference_scores[metric]),
                     "resampled": resampled[1][metric] - resampled[0][metric]}
            for metric in reference_scores}


def compare_models(task: Task, metric: str, y_true: np.ndarray, reference, candidate, seed: int,
                   samples: int = BOOTSTRAP_RESAMPLES) -> dict:
    """How much worse `candidate` scores than `reference` on the same test examples (positive:
    worse, in the metric's units), the 95% paired-bootstrap interval of that difference, the
    one-sided p-value that the candidate is worse (McNemar's exact test for accuracy, the
    paired bootstrap for any other metric), and what one example can move it (one_example)."""
    reference, candidate = np.asarray(reference), np.asarray(candidate)
    sign = 1.0 if task.greater_is_better else -1.0
    change = paired_changes(task, y_true, reference, candidate, samples, seed)[metric]
    shortfalls = -sign * change["resampled"]
    low, high = percentile_interval(shortfalls)
    p_value = bootstrap_p_value(shortfalls)
    if metric == "accuracy":
        p_value = mcnemar_p(correct(task, y_true, reference), correct(task, y_true, candidate))
    return {"difference": -sign * change["difference"] + 0.0, "ci_low": low, "ci_high": high, "p_value": p_value,
            "one_example": one_example(task, metric, y_true, reference, candidate)}


def judge_change(metric: str, difference: float, interval: tuple, resolution: float = 0.0,
                 seed_std: float = 0.0) -> dict:
    """better / worse / within noise for a change of `metric` (new minus old, in its units).

    `interval` is the change's 95% paired interval over test examples. Training noise widens it:
    two models of one configuration trained with different seeds differ by about sqrt(2) x the
    seed-to-seed standard deviation, so 1.96 sqrt(2) seed_std is added in quadrature to each side.
    A change also has to be at least `resolution` (what one test example can move the metric).
    """
    widen = norm.ppf(0.5 + CONFIDENCE / 2) * np.sqrt(2) * seed_std if seed_std else 0.0
    low = difference - np.hypot(max(difference - interval[0], 0.0), widen)
    high = difference + np.hypot(max(interval[1] - difference, 0.0), widen)
    sign = 1.0 if greater_is_better(metric) else -1.0
    verdict = "within noise"
    if abs(difference) >= resolution and (low > 0 or high < 0):
        verdict = "better" if sign * difference > 0 else "worse"
    return {"difference": difference, "ci_low": float(low), "ci_high": float(high), "verdict": verdict}

