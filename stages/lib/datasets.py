"""Data sources: what each dataset is (its published schema) and the code that loads it."""
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from stages.lib.errors import PipelineError
from stages.lib.io import sha256_of_arrays
from stages.lib.sources import PublishedFile, locate

KERAS_DATASETS = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
MNIST_FILE = PublishedFile("mnist.npz", KERAS_DATASETS + "mnist.npz",
                           "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1")


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    source: str
    problem: str  # "classification" or "regression"
    example_shape: tuple
    value_range: tuple  # (min, max) every feature value must lie in
    classes: tuple
    load: Callable  # (spec, collect params) -> (x, y)
    published: Optional[PublishedFile] = None


def _load_digits(spec, options):
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images.astype(np.float64), bunch.target.astype(np.int64)


def _published_arrays(path, names) -> dict:
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [name for name in names if name not in archive.files]
            if missing:
                raise PipelineError(f"{path} lacks the arrays {missing} of the published layout {names}")
            return {name: archive[name] for name in names}
    except (ValueError, OSError) as error:
        raise PipelineError(f"{path} is not a readable npz file ({error})") from None


def _load_mnist(spec, options):
    """Keras' mnist.npz: the 60,000 training and 10,000 test images, pooled for our own split."""
    path = locate(spec.published, options.data_dir)
    arrays = _published_arrays(path, ["x_train", "y_train", "x_test", "y_test"])
    x = np.concatenate([arrays["x_train"], arrays["x_test"]])
    y = np.concatenate([arrays["y_train"], arrays["y_test"]]).astype(np.int64)
    if x.shape[1:] != spec.example_shape:
        raise PipelineError(f"{path} holds images of shape {x.shape[1:]}, not MNIST's {spec.example_shape}")
    return x, y


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
    "mnist": DatasetSpec(
        name="mnist",
        source=f"MNIST as published for Keras: {MNIST_FILE.url}",
        problem="classification",
        example_shape=(28, 28),
        value_range=(0.0, 255.0),
        classes=tuple(range(10)),
        load=_load_mnist,
        published=MNIST_FILE,
    ),
}


def dataset_spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise PipelineError(f"unknown dataset '{name}': choose one of {sorted(DATASETS)} in params.yaml task.dataset")
    return DATASETS[name]


def load_dataset(spec: DatasetSpec, options):
    return spec.load(spec, options)


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
    """Provenance of the raw data: where it came from, content hashes and counts."""
    classes, counts = np.unique(y, return_counts=True)
    record = {
        "dataset": spec.name,
        "source": spec.source,
        "sha256": sha256_of_arrays(x, y),
        "examples": len(y),
        "example_shape": list(x.shape[1:]),
        "dtype": str(x.dtype),
        "class_counts": {str(c): int(n) for c, n in zip(classes, counts)},
    }
    if spec.published:
        record["published_file"] = {"name": spec.published.name, "url": spec.published.url,
                                    "sha256": spec.published.sha256}
    return record
