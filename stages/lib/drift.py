"""Drift measures, as TFDV compares data: the Jensen-Shannon divergence of numeric features' histograms
(confirmed by a Kolmogorov-Smirnov test when validate compares splits) and the L-infinity distance of
category proportions. validate measures drift between splits, monitor between training data and a new batch.
"""
import numpy as np
import pandas as pd

from stages.lib.splitting import training_and_compared


def js_divergence(reference: np.ndarray, other: np.ndarray, max_bins: int = 10) -> float:
    """Jensen-Shannon divergence (base 2, 0..1) of two samples' histograms over shared equal-width bins,
    as TFDV compares numeric features; missing values are left out.

    Up to 10 bins, fewer for small samples (the square-root rule): with 30 rows, ten bins would
    measure sampling noise more than drift.
    """
    from scipy.spatial.distance import jensenshannon

    reference, other = finite(reference), finite(other)
    if len(reference) == 0 or len(other) == 0:
        return 0.0
    bins = int(np.clip(np.sqrt(min(len(reference), len(other))), 2, max_bins))
    low, high = min(reference.min(), other.min()), max(reference.max(), other.max())
    if low == high:
        return 0.0
    # bins and range rather than the edges themselves: numpy's equal-width path, the same counts without sorting
    p, _ = np.histogram(reference, bins, range=(low, high))
    q, _ = np.histogram(other, bins, range=(low, high))
    return float(jensenshannon(p, q, base=2) ** 2)


def finite(values: np.ndarray) -> np.ndarray:
    """The finite values; the array itself when all are (no copy)."""
    keep = np.isfinite(values)
    return values if keep.all() else values[keep]


# scipy's ks_2samp holds about six copies of both samples (355 MB for 6M and 2M values); past its exact method's sizes
# ks_p_value computes the same statistic a chunk of this many points at a time, and the same asymptotic p-value.
KS_CHUNK = 1 << 20
KS_EXACT_UP_TO = 10_000  # ks_2samp's MAX_AUTO_N: up to this many values on each side it computes the exact p-value


def ks_p_value(reference: np.ndarray, compared: np.ndarray) -> float:
    """The two-sided two-sample Kolmogorov-Smirnov p-value, as scipy's ks_2samp(method="auto") gives it."""
    from scipy.stats import ks_2samp, kstwo

    if max(len(reference), len(compared)) <= KS_EXACT_UP_TO:
        return float(ks_2samp(reference, compared).pvalue)
    a, b = np.sort(reference), np.sort(compared)
    largest = 0.0
    for values in (a, b):
        for start in range(0, len(values), KS_CHUNK):
            points = values[start:start + KS_CHUNK]
            gaps = np.searchsorted(a, points, side="right") / len(a) - np.searchsorted(b, points, side="right") / len(b)
            largest = max(largest, float(gaps.max()), float(-gaps.min()))
    m, n = sorted([float(len(a)), float(len(b))], reverse=True)
    return float(np.clip(kstwo.sf(min(largest, 1.0), np.round(m * n / (m + n))), 0, 1))


def linf_distance(reference: np.ndarray, current: np.ndarray) -> float:
    """The largest difference between two samples' category proportions (0..1), in one pass over each."""
    p = pd.Series(reference).value_counts(normalize=True)
    q = pd.Series(current).value_counts(normalize=True)
    gaps = p.sub(q, fill_value=0.0).abs()
    return float(gaps.max()) if len(gaps) else 0.0


# Drift must also be more than sampling noise: with a few dozen filled values, histograms of the same
# distribution can sit 0.2 apart in Jensen-Shannon divergence.
DRIFT_SIGNIFICANCE = 0.01


def split_drift(names: list, values: list, split: dict, max_js_divergence: float) -> pd.DataFrame:
    """One row per fold, compared split and feature: the Jensen-Shannon divergence from its training data and,
    where that is over max_js_divergence, the two-sample Kolmogorov-Smirnov p-value. A feature drifts when
    both say so: a large divergence that sampling noise is unlikely to explain. `values`: one array per name."""
    rows = []
    for fold, name, train, other in training_and_compared(split):
        for column, feature in enumerate(names):
            reference, compared = values[column][train], values[column][other]
            divergence = js_divergence(reference, compared)
            p_value = 1.0
            if divergence > max_js_divergence:
                p_value = ks_p_value(finite(reference), finite(compared))
            rows.append({"fold": fold, "split": name, "feature": feature, "js_divergence": round(divergence, 4),
                         "ks_p_value": float(f"{p_value:.3g}"),
                         "drifted": bool(divergence > max_js_divergence and p_value < DRIFT_SIGNIFICANCE)})
    return pd.DataFrame(rows)
