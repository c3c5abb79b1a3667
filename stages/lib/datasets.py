"""Data sources: what each dataset is (its published schema) and the code that loads it."""
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from stages.lib.errors import PipelineError
from stages.lib.io import sha256_of_arrays


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    source: str
    problem: str  # "classification" or "regression"
    example_shape: tuple
    value_range: tuple  # (min, max) every feature value must lie in
    classes: tuple
    load: Callable[[], tuple]


def _load_digits():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images.astype(np.float64), bunch.target.astype(np.int64)


DATASETS = {
    "digits": DatasetSpec(
        name="digits",
        source="sklearn.datasets.load_digits (UCI optical recognition of handwritten digits, bundled)",
        problem="classification",
        example_shape=(8, 8),
        value_range=(0.0, 16.0),
        classes=tuple(range(10)),
        load=_load_digits,
    ),
}


def dataset_spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise PipelineError(f"unknown dataset '{name}': choose one of {sorted(DATASETS)} in params.yaml task.dataset")
    return DATASETS[name]


def stratified_sample(x, y, limit: Optional[int], seed: int):
    """Keep `limit` examples with the class proportions of the whole (all when limit is None)."""
    if limit is None or limit >= len(y):
        return x, y
    from sklearn.model_selection import train_test_split

    try:
        keep, _ = train_test_split(np.arange(len(y)), train_size=limit, stratify=y, random_state=seed)
    except ValueError as error:
        raise PipelineError(f"collect.limit={limit} is too small to keep every class ({error})") from None
    keep = np.sort(keep)
    return x[keep], y[keep]


def manifest(spec: DatasetSpec, x: np.ndarray, y: np.ndarray) -> dict:
    """Provenance of the raw data: where it came from, a content hash and counts."""
    classes, counts = np.unique(y, return_counts=True)
    return {
        "dataset": spec.name,
        "source": spec.source,
        "sha256": sha256_of_arrays(x, y),
        "examples": len(y),
        "example_shape": list(x.shape[1:]),
        "dtype": str(x.dtype),
        "class_counts": {str(c): int(n) for c, n in zip(classes, counts)},
    }
