"""Writing and reading the features vectorize makes (the raw examples: stages.lib.kinds.read_raw).

Dense features are stored as blocks of rows (members x0, x1, ... of an npz, each compressed on its own), so that
a file can be read a block at a time; read_features loads a file whole up to STREAM_ABOVE bytes of features and
beyond that gives a StoredRows, which training and prediction read a block at a time (models.batches, predict).
"""
import itertools
import zipfile
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix, issparse, vstack

from stages.lib import paths
from stages.lib.errors import PipelineError
from stages.lib.io import read_json, read_npz, write_npz, write_npz_members

# Dense features are written in blocks of at most this many bytes (32 MB: 186,000 rows of 45 features)...
BLOCK_BYTES = 32 << 20
# ... and files of more than this many bytes of features are read a block at a time rather than whole.
STREAM_ABOVE = 256 << 20
READ_BYTES = 1 << 20  # a block is decompressed into its array this many bytes at a time


def write_features(path, x, y: np.ndarray) -> tuple:
    """Features (a matrix, or an iterator of consecutive blocks of rows, which are never joined when dense) and
    their targets: dense float32 features in blocks of at most BLOCK_BYTES; sparse ones (multi-hot, TF-IDF, many
    one-hot columns) as CSR arrays; compressed either way (io.COMPRESS_LEVEL). Returns (columns, how they are
    stored: storage_note)."""
    blocks = iter([x] if hasattr(x, "shape") else x)
    first = next(blocks)
    if issparse(first):
        x = vstack([first, *blocks], format="csr") if len(y) > first.shape[0] else first.tocsr()
        write_npz(path, compress=True, data=x.data.astype(np.float32), indices=x.indices, indptr=x.indptr,
                  shape=np.array(x.shape), y=y)
        return x.shape[1], storage_note(x)
    columns = first.shape[1]
    rows_per_block = max(1, BLOCK_BYTES // max(1, first.itemsize * columns))

    def members():
        """y, then the rows cut into members of rows_per_block rows whatever the blocks they came in."""
        yield "y", y
        number = written = 0
        pending = first[:0]
        for block in itertools.chain([first], blocks):
            block = np.ascontiguousarray(block, dtype=first.dtype)  # one dtype and layout: the same bytes
            pending = np.concatenate([pending, block]) if len(pending) else block
            while len(pending) >= rows_per_block:
                yield f"x{number}", pending[:rows_per_block]
                written, number, pending = written + rows_per_block, number + 1, pending[rows_per_block:]
        if len(pending) or not number:  # an empty part is one empty member
            yield f"x{number}", pending
            written += len(pending)
        if written != len(y):  # raised inside the write: no file is left
            raise ValueError(f"{written} rows of features written for {len(y)} targets")

    write_npz_members(path, members(), compress=True)
    return columns, storage_note(first)


def storage_note(x) -> str:
    """How features are stored, for the stage's output: dense, or sparse with their share of non-zeros."""
    if not issparse(x):
        return "dense"
    return f"sparse, {x.nnz / max(1, x.shape[0] * x.shape[1]):.1%} non-zero"


class StoredRows:
    """A features file's dense rows, read a block at a time: an array's shape, dtype and nbytes, rows taken by
    number (x[rows]), the blocks in any order (blocks), or the whole array (load)."""

    def __init__(self, path):
        self.path = str(path)
        with zipfile.ZipFile(self.path) as archive:
            names = sorted((n[1:-4] for n in archive.namelist() if n.startswith("x") and n[1:-4].isdigit()), key=int)
            headers = [_npy_header(archive, f"x{n}.npy") for n in names]
        if not headers:
            raise PipelineError(f"{self.path} holds no dense features: rebuild it with `dvc repro -f vectorize`")
        self.block_rows = np.array([shape[0] for shape, _ in headers], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.block_rows)])
        self.dtype = headers[0][1]
        self.shape = (int(self.starts[-1]), *headers[0][0][1:])
        self.nbytes = int(np.prod(self.shape)) * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def block(self, number: int) -> np.ndarray:
        """Block `number`'s rows, decompressed straight into their array a megabyte at a time (np.load would
        hold about three more copies of the block while reading it)."""
        with zipfile.ZipFile(self.path) as archive, archive.open(f"x{number}.npy") as member:
            shape, dtype = _read_npy_header(member)
            block = np.empty(shape, dtype)
            into = block.reshape(-1).view(np.uint8)
            filled = 0
            while filled < into.size:
                read = member.readinto(into[filled:filled + READ_BYTES])
                if not read:
                    raise PipelineError(f"{self.path} ends inside x{number}: rebuild it with `dvc repro -f vectorize`")
                filled += read
        return block

    def blocks(self, order=None):
        """Each block's rows, in the given order of block numbers (default: stored order)."""
        for number in range(len(self.block_rows)) if order is None else order:
            yield self.block(int(number))

    def load(self) -> np.ndarray:
        """All rows in one array (filled a block at a time: no second copy)."""
        if len(self.block_rows) == 1:
            return self.block(0)
        whole = np.empty(self.shape, self.dtype)
        for number, block in enumerate(self.blocks()):
            whole[self.starts[number]:self.starts[number + 1]] = block
        return whole

    def __getitem__(self, rows) -> np.ndarray:
        """The rows numbered `rows` (a slice, or an array of row numbers), in that order, reading only the blocks
        they are in."""
        rows = np.arange(len(self))[rows] if isinstance(rows, slice) else np.asarray(rows)
        if rows.ndim != 1 or (rows.size and rows.dtype.kind not in "iu"):
            raise TypeError(f"rows of {self.path} are taken by a slice or an array of row numbers, not {rows.dtype}")
        rows = rows.astype(np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= len(self)):
            raise IndexError(f"row numbers of {self.path} run from 0 to {len(self) - 1}, not {rows.min()} to {rows.max()}")
        taken = np.empty((len(rows), *self.shape[1:]), self.dtype)
        owner = np.searchsorted(self.starts, rows, side="right") - 1
        for number in np.unique(owner):
            picked = owner == number
            taken[picked] = self.block(int(number))[rows[picked] - self.starts[number]]
        return taken


def in_memory(xy) -> tuple:
    """xy itself, or (x, y) with x loaded whole if it is a StoredRows."""
    x, y = xy
    return (x.load(), y) if isinstance(x, StoredRows) else xy


def _npy_header(archive, name: str) -> tuple:
    """(shape, dtype) of an .npy member, from its header alone."""
    with archive.open(name) as member:
        return _read_npy_header(member)


def _read_npy_header(member) -> tuple:
    """(shape, dtype) from the header of an open .npy stream, which is left at the array's first byte. Features are
    written in C order."""
    version = np.lib.format.read_magic(member)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran_order, dtype = read(member)
    if fortran_order or dtype.hasobject:
        raise PipelineError(f"{member.name} is not a features block vectorize writes: rebuild it with `dvc repro -f vectorize`")
    return shape, dtype


def read_features(split: str, fold=None):
    """(x, y) of a fold's train/validation split, or (fold None) of development/test. x is a scipy CSR matrix
    (sparse features), an array, or, past STREAM_ABOVE bytes, a StoredRows read a block at a time."""
    path = paths.features_file(split, fold)
    arrays = read_npz(path, ["y"])
    y = arrays["y"]
    with zipfile.ZipFile(path) as archive:
        sparse = "indptr.npy" in archive.namelist()
    if sparse:
        arrays = read_npz(path, ["data", "indices", "indptr", "shape"])
        return csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=tuple(arrays["shape"])), y
    stored = StoredRows(path)
    return (stored if stored.nbytes > STREAM_ABOVE else stored.load()), y


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
