"""Data sources: what each dataset is (its published schema) and the code that loads it."""
import hashlib
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from stages.lib import idx
from stages.lib.errors import PipelineError
from stages.lib.kinds import kind_named
from stages.lib.sequences import Sequences, keras_imdb_encoding
from stages.lib.sources import PublishedFile, locate, locate_set, verify
from stages.lib.splitting import distinct
from stages.lib.tables import load_table, load_text

KERAS_DATASETS = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
MNIST_FILE = PublishedFile("mnist.npz", KERAS_DATASETS + "mnist.npz",
                           "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1")
# The canonical IDX files; each sha256 is that of the decompressed content (the .gz wrappers differ between copies).
MNIST_PAGE = "https://yann.lecun.com/exdb/mnist/"
MNIST_IDX = {
    "x_train": PublishedFile("train-images-idx3-ubyte", MNIST_PAGE + "train-images-idx3-ubyte.gz",
                             "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    "y_train": PublishedFile("train-labels-idx1-ubyte", MNIST_PAGE + "train-labels-idx1-ubyte.gz",
                             "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    "x_test": PublishedFile("t10k-images-idx3-ubyte", MNIST_PAGE + "t10k-images-idx3-ubyte.gz",
                            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    "y_test": PublishedFile("t10k-labels-idx1-ubyte", MNIST_PAGE + "t10k-labels-idx1-ubyte.gz",
                            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
}
IMDB_FILE = PublishedFile("imdb.npz", KERAS_DATASETS + "imdb.npz",
                          "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f")


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    source: str
    problem: Optional[str]  # "classification" or "regression"; None: from the data (task.problem)
    kind: str  # the data's kind, a name in stages.lib.kinds.KINDS
    example_shape: tuple  # images only
    value_range: Optional[tuple]  # (min, max) every value must lie in; sequences: from collect.imdb
    classes: Optional[tuple]  # the published label set; None: whatever the user's data holds
    load: Callable  # (spec, collect params, task.problem) -> (x, y, details for the manifest)
    published: Optional[PublishedFile] = None


def _load_digits(spec, options, problem):
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images.astype(np.float64), bunch.target.astype(np.int64), {}


def _published_arrays(path, names, ragged: bool = False) -> dict:
    """The named arrays of a verified published npz. Ragged files (imdb.npz) hold object arrays
    of lists, which only unpickling reads; `path` has the published sha256 (locate checked it),
    so what is unpickled is the published file, byte for byte."""
    try:
        with np.load(path, allow_pickle=ragged) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (ValueError, OSError, EOFError) as error:
        raise PipelineError(f"{path} is not a readable npz file ({error})") from None
    missing = [name for name in names if name not in arrays]
    if missing:
        raise PipelineError(f"{path} lacks the arrays {missing} of the published layout {names}")
    return arrays


def _idx_arrays(paths: dict) -> dict:
    """The arrays of the canonical IDX files, each file's content checked against its published sha256 (after
    the format, so that a truncated file is named as such)."""
    arrays = {}
    for key, path in paths.items():
        data = idx.content(path)
        arrays[key] = idx.parse(data, str(path))
        verify(path, MNIST_IDX[key], hashlib.sha256(data).hexdigest())
    return arrays


def _load_mnist(spec, options, problem):
    """The 60,000 training and 10,000 test images, pooled for our own split: from the four canonical IDX files
    (gzip-compressed or not) in collect.data_dir or $UWF_DATA_DIR, else from Keras' mnist.npz."""
    idx_paths = locate_set(MNIST_IDX, options.data_dir)
    if idx_paths:
        path, arrays = next(iter(idx_paths.values())).parent, _idx_arrays(idx_paths)
        files = [p.name for p in idx_paths.values()]
    else:
        path = locate(spec.published, options.data_dir)
        arrays = _published_arrays(path, ["x_train", "y_train", "x_test", "y_test"])
        files = [path.name]
    x = np.concatenate([arrays["x_train"], arrays["x_test"]])
    y = np.concatenate([arrays["y_train"], arrays["y_test"]]).astype(np.int64)
    if x.shape[1:] != spec.example_shape:
        raise PipelineError(f"{path} holds images of shape {x.shape[1:]}, not MNIST's {spec.example_shape}")
    return x, y, {"files": files}


def _load_imdb(spec, options, problem):
    """Keras' imdb.npz (25,000 training and 25,000 test reviews as word ranks), pooled and
    encoded exactly as keras.datasets.imdb.load_data does with the collect.imdb params."""
    path = locate(spec.published, options.data_dir)
    arrays = _published_arrays(path, ["x_train", "y_train", "x_test", "y_test"], ragged=True)
    words = Sequences.from_lists(list(arrays["x_train"]) + list(arrays["x_test"]))
    encoding = options.imdb
    x = keras_imdb_encoding(words, encoding.num_words, encoding.start_char, encoding.oov_char, encoding.index_from)
    return x, np.concatenate([arrays["y_train"], arrays["y_test"]]).astype(np.int64), {}


def value_range(spec, options) -> tuple:
    """The range every value must lie in: the spec's, or for token ids [0, num_words)."""
    return spec.value_range if spec.value_range else (0, options.imdb.num_words - 1)


def expected_classes(spec: DatasetSpec, raw_manifest: dict) -> list:
    """The labels a dataset must have: the published set, or those collect found in the user's data
    (none for a regression target)."""
    if spec.classes:
        return list(spec.classes)
    return sorted(int(c) for c in raw_manifest.get("class_counts", {}))


DATASETS = {
    "digits": DatasetSpec(
        name="digits",
        source="sklearn.datasets.load_digits (UCI optical recognition of handwritten digits, bundled)",
        problem="classification",
        kind="images",
        example_shape=(8, 8),
        value_range=(0.0, 16.0),
        classes=tuple(range(10)),
        load=_load_digits,
    ),
    "mnist": DatasetSpec(
        name="mnist",
        source=f"MNIST: the canonical IDX files ({MNIST_PAGE}) or Keras' copy ({MNIST_FILE.url})",
        problem="classification",
        kind="images",
        example_shape=(28, 28),
        value_range=(0.0, 255.0),
        classes=tuple(range(10)),
        load=_load_mnist,
        published=MNIST_FILE,
    ),
    "imdb": DatasetSpec(
        name="imdb",
        source=f"IMDB movie reviews as published for Keras: {IMDB_FILE.url}",
        problem="classification",
        kind="sequences",
        example_shape=(),
        value_range=None,
        classes=(0, 1),
        load=_load_imdb,
        published=IMDB_FILE,
    ),
    "table": DatasetSpec(
        name="table", source="your table: params.yaml collect.table", problem=None, kind="table",
        example_shape=(), value_range=None, classes=None, load=lambda spec, options, problem: load_table(options.table, problem),
    ),
    "text": DatasetSpec(
        name="text", source="your texts: params.yaml collect.text", problem=None, kind="text",
        example_shape=(), value_range=None, classes=None, load=lambda spec, options, problem: load_text(options.text, problem),
    ),
}


def dataset_spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise PipelineError(f"unknown dataset '{name}': choose one of {sorted(DATASETS)} in params.yaml task.dataset")
    return DATASETS[name]


def load_dataset(spec: DatasetSpec, options, problem: str = "auto"):
    """(x, y, details): the examples, their targets and what the manifest should record about them."""
    return spec.load(spec, options, problem)


def drops_repeats(kind, deduplicate) -> bool:
    """collect.deduplicate: true or false as written; auto drops the repeats of kinds whose repeats are copies."""
    return deduplicate if isinstance(deduplicate, bool) else kind.repeats_are_copies


def deduplicate(kind, x, y):
    """Drop examples whose content repeats an earlier one: a repeat could land in two splits. `kind`: the
    data's (stages.lib.kinds).

    Returns (x, y, number removed)."""
    _, first = np.unique(kind.row_hashes(x), return_index=True)
    keep = np.sort(first)
    return kind.take(x, keep), y[keep], len(y) - len(keep)


def count_repeats(kind, x) -> int:
    """How many examples repeat the content of an earlier one."""
    return len(x) - len(distinct(kind.row_hashes(x)))


def collect_summary(name: str, examples: int, dropped: dict, repeats_kept: int, sampled_from: int) -> str:
    """collect's closing line: what was kept, every dropped example counted with its reason, repeats kept."""
    reasons = [f"{count} {reason}" for reason, count in dropped.items() if count]
    line = f"collect: {examples} examples of {name}; dropped: {', '.join(reasons) or 'none'}"
    if sampled_from > examples:
        line += f"; a stratified sample of {examples} of {sampled_from} kept (collect.limit)"
    if repeats_kept:
        line += (f"; {repeats_kept} repeat an earlier example and are kept, each in the same split as the "
                 "example it repeats (collect.deduplicate: true drops them)")
    return line


def stratified_sample(kind, x, y, limit: Optional[int], seed: int, stratify: bool = True):
    """Keep `limit` examples with the class proportions of the whole (all when limit is None)."""
    if limit is None or limit >= len(y):
        return x, y
    from sklearn.model_selection import train_test_split

    try:
        keep, _ = train_test_split(np.arange(len(y)), train_size=limit, stratify=y if stratify else None,
                                   random_state=seed)
    except ValueError as error:
        raise PipelineError(f"collect.limit={limit} is too small to keep every class ({error})") from None
    keep = np.sort(keep)
    return kind.take(x, keep), y[keep]


def manifest(spec: DatasetSpec, x, y: np.ndarray, duplicates_removed: int = 0, details: Optional[dict] = None,
             repeats_kept: int = 0) -> dict:
    """Provenance of the raw data: where it came from, content hashes, counts and column roles."""
    details = dict(details or {})
    problem = details.pop("problem", spec.problem)
    kind = kind_named(spec.kind)
    record = {
        "dataset": spec.name,
        "kind": spec.kind,
        "problem": problem,
        "source": spec.source,
        "sha256": kind.content_hash(x, y),
        "examples": len(y),
        **kind.shape_and_dtype(x),
        "duplicates_removed": duplicates_removed,
        "repeats_kept": repeats_kept,
        **details,
    }
    if problem == "classification":
        classes, counts = np.unique(y, return_counts=True)
        record["class_counts"] = {str(c): int(n) for c, n in zip(classes, counts)}
    else:
        record["target_summary"] = {"mean": float(np.mean(y)), "std": float(np.std(y)),
                                    "min": float(np.min(y)), "max": float(np.max(y))}
    if spec.published:
        record["published_file"] = {"name": spec.published.name, "url": spec.published.url,
                                    "sha256": spec.published.sha256}
    return record
