"""What the data kinds' preprocessing shares: float32 matrices, scalers and their fitted statistics, and
the category that stands for a missing value (training, serving and monitoring all fill gaps with it).

Each kind's own preprocessing is in stages/lib/kinds/.
"""
import numpy as np

from stages.lib.errors import PipelineError

MISSING_CATEGORY = "missing"
FLOAT32_MAX = float(np.finfo(np.float32).max)  # the largest magnitude a float32 feature can hold


def fill_missing(values):
    """A column of categories (a pandas Series) as a pandas categorical of strings, gaps as MISSING_CATEGORY.

    Each distinct value is one string and each row a small code (a million rows of a 4,000-value column: 2 MB),
    worked on through its codes: a column read as a categorical (tables.read_raw) is never expanded to a
    Python object per row."""
    import pandas as pd

    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, uniques = values.cat.codes.to_numpy(), values.cat.categories
    else:  # as strings first: True and 1, equal as Python values, are two categories
        codes, uniques = pd.factorize(values.astype("string"), use_na_sentinel=True)
    names = [str(value) for value in uniques] + [MISSING_CATEGORY]
    categories = sorted(set(names))  # two values with one string (1 and "1") become one category
    position = {name: k for k, name in enumerate(categories)}
    codes = np.array([position[name] for name in names])[codes]  # a gap's code, -1, is the last name's
    return pd.Series(pd.Categorical.from_codes(codes, categories=categories), index=values.index, name=values.name)


def make_scaler(kind: str):
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


SCALER_STATISTICS = {"standard": ["mean", "scale"], "minmax": ["data_min", "data_max", "scale", "min"], "none": []}


def scaler_statistics(scaler, kind: str) -> dict:
    """The fitted statistics, so that anyone (and the serving layers) can apply the same transform; a scaler of
    no columns (None: a table of categories only) has empty ones."""
    return {"kind": kind, **{name: [] if scaler is None else getattr(scaler, f"{name}_")
                             for name in SCALER_STATISTICS[kind]}}


def affine(scaler: dict, width: int) -> tuple:
    """(scale, offset) lists that redo a fitted scaler (scaler_statistics) as x * scale + offset.

    StandardScaler is x * (1/scale) - mean/scale; MinMaxScaler is x * scale + min; none is x.
    """
    if scaler["kind"] == "standard":
        scale = 1.0 / np.asarray(scaler["scale"], dtype=np.float64)
        return scale.tolist(), (-np.asarray(scaler["mean"]) * scale).tolist()
    if scaler["kind"] == "minmax":
        return np.asarray(scaler["scale"]).tolist(), np.asarray(scaler["min"]).tolist()
    return [1.0] * width, [0.0] * width
