"""Reading and writing the arrays the stages exchange, for images and token sequences alike."""
import numpy as np
from scipy.sparse import csr_matrix, issparse

from stages.lib import paths
from stages.lib.errors import PipelineError
from stages.lib.io import read_npz, write_npz
from stages.lib.sequences import Sequences

SPLITS = ("train", "validation", "test")


def write_raw(path, x, y) -> None:
    if isinstance(x, Sequences):
        write_npz(path, tokens=x.tokens, offsets=x.offsets, y=y)
    else:
        write_npz(path, x=x, y=y)


def read_raw(path=paths.RAW_DATA):
    arrays = read_npz(path, None)
    x = Sequences(arrays["tokens"], arrays["offsets"]) if "tokens" in arrays else arrays.get("x")
    if x is None or "y" not in arrays:
        raise PipelineError(f"{path} holds neither x, y nor tokens, offsets, y: rebuild it with `dvc repro collect`")
    return x, arrays["y"]


def write_features(directory, split: str, x, y: np.ndarray) -> None:
    """Dense float32 features as they are; sparse multi-hot ones as CSR indices (all values are 1)."""
    path = f"{directory}/{split}.npz"
    if issparse(x):
        write_npz(path, indices=x.indices, indptr=x.indptr, shape=np.array(x.shape), y=y)
    else:
        write_npz(path, x=x, y=y)


def read_features(split: str):
    arrays = read_npz(paths.features_file(split), None)
    if "indptr" in arrays:
        ones = np.ones(len(arrays["indices"]), dtype=np.float32)
        x = csr_matrix((ones, arrays["indices"], arrays["indptr"]), shape=tuple(arrays["shape"]))
        return x, arrays["y"]
    return arrays["x"], arrays["y"]
