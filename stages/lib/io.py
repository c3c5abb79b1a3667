"""Atomic, deterministic writers and checked readers for every artifact the stages exchange.

Every writer goes through a temporary name in the destination folder and a rename, so a
killed stage never leaves a half-written file that looks complete. Temporary names read
.NAME.tmp-PID-...; the next write to NAME removes those of a process that no longer runs.
"""
import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from stages.lib.errors import PipelineError

# A fixed timestamp inside zip archives keeps npz files byte-identical across runs.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def _temp_prefix(path: Path) -> str:
    """Every temporary name of a write to `path` starts so: .NAME.tmp-PID-"""
    return f".{path.name}.tmp-"


def _writer_is_gone(name: str, prefix: str) -> bool:
    pid = name[len(prefix):].split("-", 1)[0]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


def remove_stale_temporaries(path) -> list:
    """Delete what earlier writes to `path` left when they were killed: temporary siblings of a dead process."""
    path = Path(path)
    prefix = _temp_prefix(path)
    stale = [p for p in path.parent.iterdir() if p.name.startswith(prefix) and _writer_is_gone(p.name, prefix)]
    for leftover in stale:
        _remove(leftover)
    return stale


@contextlib.contextmanager
def _temporary(path: Path, folder: bool):
    """A fresh temporary file or folder next to `path`, removed on the way out whatever happens."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    prefix = f"{_temp_prefix(path)}{os.getpid()}-"
    if folder:
        tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=path.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
    finally:
        _remove(tmp)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary file path next to `path`; rename it over `path` only on success."""
    path = Path(path)
    with _temporary(path, folder=False) as tmp:
        yield tmp
        os.replace(tmp, path)


@contextlib.contextmanager
def atomic_dir(path):
    """Yield a temporary folder next to `path`; it replaces `path` only on success."""
    path = Path(path)
    with _temporary(path, folder=True) as tmp:
        yield tmp
        # The old folder moves aside under a temporary name first: killed here, the next write removes it.
        old = tmp.with_name(tmp.name + "-old")
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
        _remove(old)


def to_jsonable(value):
    """Numpy scalars and arrays to plain Python, floats rounded so metrics diff reads well."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return round(float(value), 6)
    return value


def write_json(path, data) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(to_jsonable(data), indent=2, sort_keys=False) + "\n")


def read_json(path):
    path = Path(path)
    if not path.exists():
        raise PipelineError(f"{path} is missing: run `dvc repro` to rebuild the stages before this one")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise PipelineError(f"{path} is not valid JSON ({error}): rebuild it with `dvc repro -f`") from None


# write_npz(compress=True): deflate at level 1. On a million-row table's sparse features it stores 2.8 times
# fewer bytes (column indices shrink 8-fold, float values by a third) at 40 ms per 10 MB; level 6 saves 4% more
# for twice the time.
COMPRESS_LEVEL = 1


def write_npz(path, compress: bool = False, **arrays) -> None:
    """Like np.savez (np.savez_compressed with `compress`), but byte-identical for identical arrays (fixed zip
    timestamps). Each array is streamed into the archive, never copied whole."""
    write_npz_members(path, arrays.items(), compress)


def write_npz_members(path, members, compress: bool = False) -> None:
    """write_npz of (name, array) pairs taken one at a time from an iterator: only the array being written is
    needed in memory (vectorize writes its features a block of rows at a time so)."""
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w") as archive:
            for name, array in members:
                info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
                if compress:
                    info.compress_type = zipfile.ZIP_DEFLATED
                    # ZipInfo's level: _compresslevel up to Python 3.12, compress_level from 3.13
                    setattr(info, "compress_level" if hasattr(info, "compress_level") else "_compresslevel",
                            COMPRESS_LEVEL)
                with archive.open(info, "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def read_npz(path, names) -> dict:
    """Read the named arrays (all when `names` is None) from an npz file, refusing pickled objects."""
    path = Path(path)
    if not path.exists():
        raise PipelineError(f"{path} is missing: run `dvc repro` to rebuild the stages before this one")
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = archive.files if names is None else names
            missing = [name for name in names if name not in archive.files]
            if missing:
                raise PipelineError(f"{path} lacks the arrays {missing}: rebuild it with `dvc repro -f`")
            return {name: archive[name] for name in names}
    except (ValueError, OSError, zipfile.BadZipFile) as error:
        raise PipelineError(f"{path} is not a readable npz file ({error}): rebuild it with `dvc repro -f`") from None


def sha256_of_arrays(*arrays) -> str:
    """A content hash of arrays: dtype, shape and bytes, independent of any file format."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def write_csv(path, frame, float_format: str = "%.6f") -> None:
    """A pandas frame as CSV with fixed float precision (for `dvc plots`), or the format given."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format=float_format)


def row_blocks(indices, rows: int = 2**18):
    """Consecutive slices of `indices` of at most `rows` each: the blocks of rows worked on one at a time."""
    return [indices[start:start + rows] for start in range(0, len(indices), rows)] or [indices[:0]]


# read_parquet converts at most this much of a table at a time (8 bytes a value), beside the frame it builds
PARQUET_BATCH_BYTES = 64 << 20


def read_parquet(path, columns=None, strings_as_categories: bool = False):
    """A parquet file as a pandas frame (only `columns`, when named), converted a few columns at a time, so that
    Arrow's copy of them (freed once converted) is all that is held besides the frame; with strings_as_categories,
    its string columns as pandas categoricals (a small code per row, each value once), not a string per row."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    repeated = sorted({name for name in schema.names if schema.names.count(name) > 1})
    if repeated:
        raise PipelineError(f"{path} has repeated column name(s) {repeated}: give every column its own name")
    index = [c for c in (schema.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)]
    names = [name for name in schema.names if name not in index] if columns is None else list(columns)
    parquet = _parquet_file(path, names, strings_as_categories)
    per_batch = max(1, PARQUET_BATCH_BYTES // max(1, 8 * parquet.metadata.num_rows))
    parts = []
    for start in range(0, len(names), per_batch):
        table = parquet.read(columns=names[start:start + per_batch])
        parts.append(table.to_pandas(self_destruct=True, split_blocks=True))
        del table
        pa.default_memory_pool().release_unused()  # Arrow's pool keeps what it freed unless told
    if not parts:
        return pd.read_parquet(path, columns=columns)
    return pd.concat(parts, axis=1) if len(parts) > 1 else parts[0]  # copy-on-write: no copy


def _parquet_file(path, names: list, strings_as_categories: bool):
    """The parquet file, its string columns among `names` read as dictionaries with strings_as_categories (pandas
    categoricals once converted)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    strings = [field.name for field in pq.read_schema(path) if strings_as_categories and field.name in names
               and (pa.types.is_string(field.type) or pa.types.is_large_string(field.type))]
    return pq.ParquetFile(path, read_dictionary=strings or None)


def read_parquet_rows(path, rows, strings_as_categories: bool = False):
    """The rows numbered `rows` of a parquet file, in that order, as read_parquet gives them, read a row group at a
    time: only one row group and the rows taken from it are held."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = np.asarray(rows, dtype=np.int64)
    parquet = _parquet_file(path, pq.read_schema(path).names, strings_as_categories)
    if len(rows) and (rows.min() < 0 or rows.max() >= parquet.metadata.num_rows):
        raise PipelineError(f"{path} has {parquet.metadata.num_rows} rows, not row {rows.max()}: rebuild it with "
                            "`dvc repro collect`")
    order = np.argsort(rows, kind="stable")
    wanted, parts, start = rows[order], [], 0
    for group in range(parquet.num_row_groups):
        end = start + parquet.metadata.row_group(group).num_rows
        inside = wanted[np.searchsorted(wanted, start):np.searchsorted(wanted, end)] - start
        if len(inside):
            parts.append(parquet.read_row_group(group).take(pa.array(inside)))
        start = end
    table = pa.concat_tables(parts) if parts else parquet.schema_arrow.empty_table()
    frame = table.to_pandas()
    positions = np.empty(len(rows), dtype=np.int64)
    positions[order] = np.arange(len(rows))  # back from the file's order to the order asked for
    return frame.iloc[positions].reset_index(drop=True)


def write_parquet(path, frame) -> None:
    """A pandas frame as parquet, without its index."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def save_keras_model(model, path) -> None:
    """model.save, byte-identical for identical models. model.save needs a `.keras` name, so it
    saves inside a temporary folder; the archive is rewritten there without what differs run to
    run, then renamed over `path`."""
    path = Path(path)
    with _temporary(path, folder=True) as tmp:
        model.save(tmp / path.name)
        rewritten = tmp / f"rewritten-{path.name}"
        _rewrite_keras_archive(tmp / path.name, rewritten)
        os.replace(rewritten, path)


def _rewrite_keras_archive(source, destination) -> None:
    """A copy of a `.keras` zip with the same entries in the same order and compression, a fixed
    date_time on each, and metadata.json and config.json stripped of run details (_run_independent)."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(destination, "w") as copy:
        for info in original.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_EPOCH)
            entry.compress_type, entry.external_attr = info.compress_type, info.external_attr
            if info.filename in ("metadata.json", "config.json"):
                copy.writestr(entry, _run_independent(info.filename, original.read(info)))
                continue
            entry.file_size = info.file_size  # lets zipfile choose zip64 for a large weights file
            with original.open(info) as reader, copy.open(entry, "w") as writer:
                shutil.copyfileobj(reader, writer, 1 << 20)


def _run_independent(name: str, data: bytes) -> bytes:
    """metadata.json with "date_saved" set to the zip epoch (kept, not removed: KerasFileEditor.summary
    reads it); config.json with each "shared_object_id" (the id() of an object several layers share, such
    as a dtype policy: a memory address) renumbered 1, 2, ... in order of first appearance. Keras' loader
    reads neither the date nor the ids' values, only which configs share an id."""
    content = json.loads(data)
    if name == "metadata.json":
        content["date_saved"] = "{:04d}-{:02d}-{:02d}@{:02d}:{:02d}:{:02d}".format(*_ZIP_EPOCH)  # Keras' format
    else:
        _renumber_shared_objects(content, {})
    return json.dumps(content).encode()


def _renumber_shared_objects(config, numbers: dict) -> None:
    if isinstance(config, dict):
        if "shared_object_id" in config:
            config["shared_object_id"] = numbers.setdefault(config["shared_object_id"], len(numbers) + 1)
        config = list(config.values())
    if isinstance(config, list):
        for value in config:
            _renumber_shared_objects(value, numbers)
