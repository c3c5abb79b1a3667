"""Reading and writing the arrays the stages exchange, for images, token sequences, tables and texts."""
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix, issparse

from stages.lib import paths
from stages.lib.errors import PipelineError
from stages.lib.io import atomic_path, read_npz, write_npz
from stages.lib.sequences import Sequences


def take(x, indices):
    """The examples at `indices`, whatever the kind: arrays, Sequences, table frames or texts."""
    if isinstance(x, pd.DataFrame):
        return x.iloc[indices].reset_index(drop=True)
    return x[indices]


def _write_parquet(path, frame: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def write_raw(directory, x, y) -> None:
    """Arrays and sequences in one npz; tables and texts as parquet plus an npz of targets."""
    directory = Path(directory)
    if isinstance(x, Sequences):
        write_npz(directory / Path(paths.RAW_DATA).name, tokens=x.tokens, offsets=x.offsets, y=y)
    elif isinstance(x, pd.DataFrame):
        _write_parquet(directory / Path(paths.RAW_TABLE).name, x)
        write_npz(directory / Path(paths.RAW_LABELS).name, y=y)
    elif x.dtype == object:
        _write_parquet(directory / Path(paths.RAW_TEXTS).name, pd.DataFrame({"text": x.astype(str)}))
        write_npz(directory / Path(paths.RAW_LABELS).name, y=y)
    else:
        write_npz(directory / Path(paths.RAW_DATA).name, x=x, y=y)


def read_raw(directory=paths.RAW_DIR):
    """(x, y) as collect wrote them: an array, Sequences, a table frame or an array of texts."""
    directory = Path(directory)
    table, texts = directory / Path(paths.RAW_TABLE).name, directory / Path(paths.RAW_TEXTS).name
    if table.exists() or texts.exists():
        y = read_npz(directory / Path(paths.RAW_LABELS).name, ["y"])["y"]
        if table.exists():
            return pd.read_parquet(table), y
        return pd.read_parquet(texts)["text"].to_numpy(dtype=object), y
    path = directory / Path(paths.RAW_DATA).name
    arrays = read_npz(path, None)
    x = Sequences(arrays["tokens"], arrays["offsets"]) if "tokens" in arrays else arrays.get("x")
    if x is None or "y" not in arrays:
        raise PipelineError(f"{path} holds neither x, y nor tokens, offsets, y: rebuild it with `dvc repro collect`")
    return x, arrays["y"]


def write_features(path, x, y: np.ndarray) -> None:
    """Dense float32 features as they are; sparse ones (multi-hot, TF-IDF) as CSR arrays."""
    if issparse(x):
        write_npz(path, data=x.data.astype(np.float32), indices=x.indices, indptr=x.indptr,
                  shape=np.array(x.shape), y=y)
    else:
        write_npz(path, x=x, y=y)


def read_features(split: str, fold=None):
    """(x, y) of a fold's train/validation split, or (fold None) of development/test."""
    arrays = read_npz(paths.features_file(split, fold), None)
    if "indptr" in arrays:
        x = csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=tuple(arrays["shape"]))
        return x, arrays["y"]
    return arrays["x"], arrays["y"]


def fold_numbers() -> list:
    """The folds vectorize wrote features for, in order."""
    folder = Path(paths.FOLD_FEATURES_DIR)
    folds = sorted(int(d.name) for d in folder.iterdir() if d.name.isdigit()) if folder.is_dir() else []
    if not folds:
        raise PipelineError(f"{folder} holds no folds: run `dvc repro vectorize`")
    return folds
