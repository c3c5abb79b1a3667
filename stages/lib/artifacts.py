"""Writing and reading the features vectorize makes (the raw examples: stages.lib.kinds.read_raw)."""
import itertools
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix, issparse, vstack

from stages.lib import paths
from stages.lib.errors import PipelineError
from stages.lib.io import RowBlocks, read_json, read_npz, write_npz


def write_features(path, x, y: np.ndarray) -> tuple:
    """Features (a matrix, or an iterator of consecutive blocks of rows, which are never joined when dense) and
    their targets: dense float32 features as they are; sparse ones (multi-hot, TF-IDF, many one-hot columns) as
    CSR arrays; compressed either way (io.COMPRESS_LEVEL). Returns (columns, how they are stored: storage_note)."""
    blocks = iter([x] if hasattr(x, "shape") else x)
    first = next(blocks)
    if issparse(first):
        x = vstack([first, *blocks], format="csr") if len(y) > first.shape[0] else first.tocsr()
        write_npz(path, compress=True, data=x.data.astype(np.float32), indices=x.indices, indptr=x.indptr,
                  shape=np.array(x.shape), y=y)
        return x.shape[1], storage_note(x)
    write_npz(path, compress=True, x=RowBlocks(itertools.chain([first], blocks), len(y)), y=y)
    return first.shape[1], storage_note(first)


def storage_note(x) -> str:
    """How features are stored, for the stage's output: dense, or sparse with their share of non-zeros."""
    if not issparse(x):
        return "dense"
    return f"sparse, {x.nnz / max(1, x.shape[0] * x.shape[1]):.1%} non-zero"


def read_features(split: str, fold=None):
    """(x, y) of a fold's train/validation split, or (fold None) of development/test."""
    arrays = read_npz(paths.features_file(split, fold), None)
    if "indptr" in arrays:
        x = csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=tuple(arrays["shape"]))
        return x, arrays["y"]
    return arrays["x"], arrays["y"]


def read_indexed(fold=None):
    """The indexed columns of a fold's features, or (fold None) of development/test: {"positions", "sizes",
    "masked", "columns"} from vectorize's statistics (stages/lib/indexing.py), or None where there are none."""
    folder = Path(paths.FEATURES_DIR if fold is None else f"{paths.FOLD_FEATURES_DIR}/{fold}")
    return read_json(folder / "preprocessing.json").get("indexed")


def fold_numbers() -> list:
    """The folds vectorize wrote features for, in order."""
    folder = Path(paths.FOLD_FEATURES_DIR)
    folds = sorted(int(d.name) for d in folder.iterdir() if d.name.isdigit()) if folder.is_dir() else []
    if not folds:
        raise PipelineError(f"{folder} holds no folds: run `dvc repro vectorize`")
    return folds
