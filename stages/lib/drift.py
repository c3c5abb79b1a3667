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

    reference, other = reference[np.isfinite(reference)], other[np.isfinite(other)]
    if len(reference) == 0 or len(other) == 0:
        return 0.0
    bins = int(np.clip(np.sqrt(min(len(reference), len(other))), 2, max_bins))
    low, high = min(reference.min(), other.min()), max(reference.max(), other.max())
    if low == high:
        return 0.0
    edges = np.linspace(low, high, bins + 1)
    p, _ = np.histogram(reference, edges)
    q, _ = np.histogram(other, edges)
    return float(jensenshannon(p, q, base=2) ** 2)


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
    from scipy.stats import ks_2samp

    rows = []
    for fold, name, train, other in training_and_compared(split):
        for column, feature in enumerate(names):
            reference, compared = values[column][train], values[column][other]
            divergence = js_divergence(reference, compared)
            p_value = 1.0
            if divergence > max_js_divergence:
                p_value = float(ks_2samp(reference[np.isfinite(reference)], compared[np.isfinite(compared)]).pvalue)
            rows.append({"fold": fold, "split": name, "feature": feature, "js_divergence": round(divergence, 4),
                         "ks_p_value": float(f"{p_value:.3g}"),
                         "drifted": bool(divergence > max_js_divergence and p_value < DRIFT_SIGNIFICANCE)})
    return pd.DataFrame(rows)
