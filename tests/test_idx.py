"""MNIST from the canonical IDX files: small files written here in the published format, and the real
ones in ../shared/data/mnist/ where that folder exists."""
import dataclasses
import gzip
import hashlib

import numpy as np
import pytest

from stages.lib import datasets, idx, sources
from stages.lib.datasets import DATASETS, MNIST_IDX, load_dataset
from stages.lib.errors import PipelineError
from tests.conftest import ROOT, run_module, write_params
from tests.test_sources import empty_cache, options, small_mnist  # noqa: F401 (a fixture)

REAL_MNIST = ROOT.parent / "shared" / "data" / "mnist"
IDX_TYPES = {np.dtype("uint8"): 0x08, np.dtype("int8"): 0x09, np.dtype(">i2"): 0x0B, np.dtype(">i4"): 0x0C,
             np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """An array as the IDX format lays it out: magic number, big-endian dimensions, big-endian values."""
    big_endian = array.astype(array.dtype.newbyteorder(">")) if array.dtype.itemsize > 1 else array
    header = bytes([0, 0, IDX_TYPES[big_endian.dtype], array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape)
    return header + np.ascontiguousarray(big_endian).tobytes()


def write_idx(path, array: np.ndarray) -> bytes:
    """The file at `path`, gzip-compressed when its name ends in .gz; returns its uncompressed content."""
    content = idx_bytes(array)
    path.write_bytes(gzip.compress(content, mtime=0) if path.name.endswith(".gz") else content)
    return content


def small_arrays(n_train=30, n_test=10) -> dict:
    rng = np.random.default_rng(0)
    return {"x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
            "y_train": (np.arange(n_train) % 10).astype(np.uint8),
            "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
            "y_test": (np.arange(n_test) % 10).astype(np.uint8)}


def small_idx_set(folder, monkeypatch, names=None, arrays=None) -> dict:
    """The four files in `folder` (names: key -> file name, default the published names, gzip-compressed), with
    MNIST_IDX expecting their contents' sha256 in place of the published ones."""
    folder.mkdir(exist_ok=True)
    arrays = arrays or small_arrays()
    expected = {}
    for key, array in arrays.items():
        name = (names or {}).get(key, MNIST_IDX[key].name + ".gz")
        content = write_idx(folder / name, array)
        expected[key] = dataclasses.replace(MNIST_IDX[key], sha256=hashlib.sha256(content).hexdigest())
    monkeypatch.setattr(datasets, "MNIST_IDX", expected)
    return arrays


@pytest.mark.parametrize("array", [np.arange(24, dtype=np.uint8).reshape(2, 3, 4), np.array([-3, 0, 70000], np.int32),
                                   np.array([[1.5, -2.25]], np.float32), np.array([-1, 1], np.int8),
                                   np.array([1e300], np.float64), np.array([-2, 300], np.int16)])
def test_every_idx_type_reads_back_with_its_shape_and_values(array, tmp_path):
    for name in ("plain", "compressed.gz"):
        write_idx(tmp_path / name, array)
        read = idx.parse(idx.content(tmp_path / name), name)
        assert read.shape == array.shape and read.dtype.isnative
        np.testing.assert_array_equal(read, array)


def test_the_idx_files_give_the_arrays_mnist_npz_gives(tmp_path, monkeypatch, empty_cache):
    """Compressed or not, published spelling or Kaggle's (train-images.idx3-ubyte): the same pooled examples."""
    arrays = small_idx_set(tmp_path / "idx", monkeypatch, names={"x_train": "train-images.idx3-ubyte",
                                                                "y_test": "t10k-labels-idx1-ubyte"})
    x, y, details = load_dataset(DATASETS["mnist"], options(tmp_path / "idx"))
    assert details["files"] == ["train-images.idx3-ubyte", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                                "t10k-labels-idx1-ubyte"]  # the raw data's manifest names what was read
    small_mnist(tmp_path / "mnist.npz")
    npz_spec = dataclasses.replace(DATASETS["mnist"], published=dataclasses.replace(
        DATASETS["mnist"].published, sha256=sources.sha256_of_file(tmp_path / "mnist.npz")))
    x_npz, y_npz, details = load_dataset(npz_spec, options(tmp_path))
    assert details["files"] == ["mnist.npz"]
    np.testing.assert_array_equal(x, x_npz)
    np.testing.assert_array_equal(y, y_npz)
    assert x.shape == (40, 28, 28) and x.dtype == np.uint8 and y.dtype == np.int64
    np.testing.assert_array_equal(x[:30], arrays["x_train"])


def test_the_idx_files_are_found_through_the_environment_variable(tmp_path, monkeypatch, empty_cache):
    small_idx_set(tmp_path / "idx", monkeypatch)
    monkeypatch.setenv(sources.DATA_DIR_VARIABLE, str(tmp_path / "idx"))
    x, _, _ = load_dataset(DATASETS["mnist"], options(tmp_path).model_copy(update={"data_dir": None}))
    assert len(x) == 40


def damage(folder, name, how):
    path = folder / name
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(gzip.compress(gzip.decompress(data)[:-100], mtime=0))
    elif how == "header cut":
        path.write_bytes(gzip.compress(gzip.decompress(data)[:10], mtime=0))
    elif how == "cut gzip":
        path.write_bytes(data[:len(data) // 2])
    elif how == "not idx":
        path.write_bytes(gzip.compress(b"label\n5\n0\n4\n", mtime=0))
    elif how == "other content":
        content = bytearray(gzip.decompress(data))
        content[-1] ^= 1
        path.write_bytes(gzip.compress(bytes(content), mtime=0))
    else:
        path.unlink()


@pytest.mark.parametrize("how, message", [
    ("truncated", "train-images-idx3-ubyte.gz holds 23436 bytes, not the 23536 its header declares (30x28x28 values "
                  "of uint8): the file is truncated or damaged; replace it with a good copy"),
    ("header cut", "train-images-idx3-ubyte.gz ends inside its header (10 bytes): the file is truncated"),
    ("cut gzip", "train-images-idx3-ubyte.gz is a damaged gzip file"),
    ("not idx", "train-images-idx3-ubyte.gz is not an IDX file (it does not start with an IDX magic number)"),
    ("other content", "train-images-idx3-ubyte.gz has sha256 "),
    ("missing", "holds some of the files published together but not train-images-idx3-ubyte: put all 4 there "
                "(from https://yann.lecun.com/exdb/mnist/)"),
])
def test_a_bad_or_missing_idx_file_is_named_in_one_line(how, message, tmp_path, monkeypatch, empty_cache):
    small_idx_set(tmp_path / "idx", monkeypatch)
    damage(tmp_path / "idx", "train-images-idx3-ubyte.gz", how)
    with pytest.raises(PipelineError) as error:
        load_dataset(DATASETS["mnist"], options(tmp_path / "idx"))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_well_formed_files_that_are_not_the_published_ones_fail_their_checksum(tmp_path, empty_cache):
    (tmp_path / "idx").mkdir()
    for key, array in small_arrays().items():
        write_idx(tmp_path / "idx" / MNIST_IDX[key].name, array)  # uncompressed this time
    with pytest.raises(PipelineError, match=f"train-images-idx3-ubyte has sha256 [0-9a-f]{{64}}, not the published "
                                            f"{MNIST_IDX['x_train'].sha256} of train-images-idx3-ubyte"):
        load_dataset(DATASETS["mnist"], options(tmp_path / "idx"))


def test_the_collect_stage_stops_on_a_truncated_file_and_writes_nothing(tmp_path, default_params):
    """Against the real published checksums: the stage fails with one line naming the file, no raw data left."""
    folder = tmp_path / "idx"
    folder.mkdir()
    for key, array in small_arrays().items():
        write_idx(folder / (MNIST_IDX[key].name + ".gz"), array)
    damage(folder, "train-images-idx3-ubyte.gz", "truncated")  # the first file read
    params = {**default_params, "task": {**default_params["task"], "dataset": "mnist"},
              "collect": {**default_params["collect"], "data_dir": str(folder)}}
    project = tmp_path / "project"
    project.mkdir()
    write_params(project, params)
    result = run_module("stages.collect", project)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "train-images-idx3-ubyte.gz holds" in errors[0]
    assert not (project / "data").exists()


@pytest.mark.skipif(not REAL_MNIST.is_dir(), reason=f"no real MNIST at {REAL_MNIST} (the IDX files of the shared data)")
def test_the_real_mnist_files_pass_their_checksums_and_hold_70000_digits(empty_cache):
    x, y, _ = load_dataset(DATASETS["mnist"], options(REAL_MNIST))
    assert x.shape == (70000, 28, 28) and x.dtype == np.uint8 and (x.min(), x.max()) == (0, 255)
    assert y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # the training file's first labels
    assert y[60000:60005].tolist() == [7, 2, 1, 0, 4]  # the test file's
    assert np.bincount(y).tolist() == [6903, 7877, 6990, 7141, 6824, 6313, 6876, 7293, 6825, 6958]
