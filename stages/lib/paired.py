"""Paired tests: two models scored on the same examples; is one of them really worse?

A test set of a few dozen examples moves a score by whole points when one prediction
changes, so a bare difference of scores says little. Both tests here look at the same
examples through both models, and answer one-sided: how likely is a difference at least
this bad if the candidate were in truth no worse than the reference?
"""
import warnings

import numpy as np
from scipy.stats import binomtest, bootstrap

from stages.lib.evaluation import correct, metric_score, one_example

BOOTSTRAP_RESAMPLES = 1000


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


def paired_bootstrap(loss, n: int, seed: int, resamples: int = BOOTSTRAP_RESAMPLES, confidence: float = 0.95) -> dict:
    """Resample the n examples with replacement (both models keep the same examples) and recompute
    `loss(indices)`, the candidate's shortfall against the reference on those examples.

    Returns the percentile interval of the shortfall and the one-sided p-value that it is in
    truth not positive: the share of resamples where it is not (plus one, so never zero), the
    test that the interval's lower end at that level would exclude zero.
    """
    result = bootstrap((np.arange(n),), loss, n_resamples=resamples, vectorized=False, confidence_level=confidence,
                       method="percentile", rng=np.random.default_rng(seed))
    shortfalls = result.bootstrap_distribution
    return {"interval": (float(result.confidence_interval.low), float(result.confidence_interval.high)),
            "p_value": float((1 + np.sum(shortfalls <= 0)) / (resamples + 1))}


def compare_models(task: dict, metric: str, y_true: np.ndarray, reference, candidate, seed: int) -> dict:
    """How much worse `candidate` scores than `reference` on the same test examples (positive:
    worse, in the metric's units), the 95% paired-bootstrap interval of that difference, the
    one-sided p-value that the candidate is worse (McNemar's exact test for accuracy, the
    paired bootstrap for any other metric), and what one example can move it (one_example)."""
    reference, candidate = np.asarray(reference), np.asarray(candidate)
    sign = 1.0 if task["greater_is_better"] else -1.0

    def shortfall(indices):
        y = y_true[indices]
        return sign * (metric_score(task, metric, y, reference[indices]) -
                       metric_score(task, metric, y, candidate[indices]))

    with warnings.catch_warnings():  # a resample may lack a class: sklearn warns, both models score alike
        warnings.simplefilter("ignore")
        resampled = paired_bootstrap(shortfall, len(y_true), seed)
    p_value = resampled["p_value"]
    if metric == "accuracy":
        p_value = mcnemar_p(correct(task, y_true, reference), correct(task, y_true, candidate))
    return {"difference": shortfall(np.arange(len(y_true))), "ci_low": resampled["interval"][0],
            "ci_high": resampled["interval"][1], "p_value": p_value,
            "one_example": one_example(task, metric, y_true, reference, candidate)}
