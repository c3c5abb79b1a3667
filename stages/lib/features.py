"""Vectorization: float32 tensors, normalization fitted on the training split only."""
import numpy as np

from stages.lib.errors import PipelineError


def _scaler(kind: str):
    from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, StandardScaler

    return {"standard": StandardScaler, "minmax": MinMaxScaler, "none": FunctionTransformer}[kind]()


def flatten(x: np.ndarray, what: str) -> np.ndarray:
    """(n, ...) examples to an (n, features) float32 matrix, refusing missing or infinite values."""
    flat = x.reshape(len(x), -1).astype(np.float32)
    bad = ~np.isfinite(flat)
    if bad.any():
        rows, cols = np.nonzero(bad)
        raise PipelineError(
            f"{what} has {bad.sum()} NaN/infinite feature value(s), first at example {rows[0]} feature f{cols[0]}: "
            "fix the raw data (validate should have stopped this)")
    return flat


def fit_normalizer(train: np.ndarray, kind: str):
    """Fit the normalization on training examples only; returns the fitted scaler."""
    return _scaler(kind).fit(train)


def normalizer_statistics(scaler, kind: str) -> dict:
    """The fitted statistics, so that anyone (and serving, later) can apply the same transform."""
    if kind == "standard":
        return {"kind": kind, "mean": scaler.mean_, "scale": scaler.scale_}
    if kind == "minmax":
        return {"kind": kind, "data_min": scaler.data_min_, "data_max": scaler.data_max_,
                "scale": scaler.scale_, "min": scaler.min_}
    return {"kind": kind}


def transform(scaler, x: np.ndarray) -> np.ndarray:
    return np.asarray(scaler.transform(x), dtype=np.float32)
