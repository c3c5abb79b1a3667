"""Published data files: find them locally or download them, and verify their sha256.

A file is looked for, in order, in the folder named by params (collect.data_dir), in the
folder named by the UWF_DATA_DIR environment variable, and in the Keras cache
(~/.keras/datasets); failing all three it is downloaded there with keras.utils.get_file.
Whatever the route, its sha256 must equal the published one.

A set of files published together (MNIST's four IDX files) is looked for in the first two
folders only; a file there may be gzip-compressed, and its decompressed content is checked.
"""
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from stages.lib.errors import PipelineError

DATA_DIR_VARIABLE = "UWF_DATA_DIR"
KERAS_CACHE = Path.home() / ".keras" / "datasets"


@dataclass(frozen=True)
class PublishedFile:
    name: str
    url: str
    sha256: str


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, published: PublishedFile, actual: Optional[str] = None) -> Path:
    """`path`, if its sha256 (or `actual`, that of its decompressed content) is the published one."""
    actual = actual or sha256_of_file(path)
    if actual != published.sha256:
        raise PipelineError(
            f"{path} has sha256 {actual}, not the published {published.sha256} of {published.name}: "
            f"the file is corrupted or another one; delete it and supply the file from {published.url}")
    return path


def _supply_hint(published: PublishedFile) -> str:
    return (f"download {published.url} elsewhere and put {published.name} in a folder named by "
            f"collect.data_dir in params.yaml or by the {DATA_DIR_VARIABLE} environment variable")


def _user_folders(data_dir: Optional[str], published: PublishedFile):
    """collect.data_dir's folder, then $UWF_DATA_DIR's, where given; either must be a folder."""
    for folder, origin in ((data_dir, "collect.data_dir"), (os.environ.get(DATA_DIR_VARIABLE), DATA_DIR_VARIABLE)):
        if folder:
            if not Path(folder).is_dir():
                raise PipelineError(f"{origin} names {folder}, which is not a folder: fix it, or {_supply_hint(published)}")
            yield Path(folder)


def locate(published: PublishedFile, data_dir: Optional[str], cache_dir: Optional[Path] = None) -> Path:
    """The verified local path of a published file, downloading it into `cache_dir` if need be."""
    cache_dir = cache_dir or KERAS_CACHE
    for folder in _user_folders(data_dir, published):
        if (folder / published.name).exists():
            return verify(folder / published.name, published)
    cached = Path(cache_dir) / published.name
    if cached.exists():
        return verify(cached, published)
    return verify(_download(published, Path(cache_dir)), published)


def _spellings(name: str) -> list:
    """A published name as it is found: as published, gzip-compressed, and with Kaggle's dot for the
    IDX files' last dash (train-images.idx3-ubyte)."""
    names = [name, name.replace("-idx", ".idx")] if "-idx" in name else [name]
    return [spelled + suffix for spelled in dict.fromkeys(names) for suffix in ("", ".gz")]


def locate_set(files: dict, data_dir: Optional[str]) -> Optional[dict]:
    """{key: path} of every PublishedFile in `files` from the first user folder holding any of them; None when
    none does. A folder holding only some of them is an error naming the missing ones."""
    first = next(iter(files.values()))
    for folder in _user_folders(data_dir, first):
        found = {key: next((folder / name for name in _spellings(file.name) if (folder / name).is_file()), None)
                 for key, file in files.items()}
        missing = [files[key].name for key, path in found.items() if path is None]
        if len(missing) < len(files):
            if missing:
                raise PipelineError(f"{folder} holds some of the files published together but not {', '.join(missing)}: "
                                    f"put all {len(files)} there (from {first.url.rsplit('/', 1)[0]}/)")
            return found
    return None


def _download(published: PublishedFile, cache_dir: Path) -> Path:
    from keras.utils import get_file

    cache_dir.mkdir(parents=True, exist_ok=True)
    try:
        # get_file shows a progress bar and writes through a temporary name.
        return Path(get_file(fname=published.name, origin=published.url, file_hash=published.sha256,
                             cache_dir=str(cache_dir), cache_subdir="."))
    except Exception as error:  # get_file wraps network errors in several exception types
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise PipelineError(f"cannot download {published.name} from {published.url} ({reason}); "
                            f"offline? {_supply_hint(published)}") from None
