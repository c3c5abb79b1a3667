"""The real loading code of the published datasets, on small files made in the published layout."""
import dataclasses

import numpy as np
import pytest

from stages.lib import sources
from stages.lib.datasets import DATASETS, load_dataset
from stages.lib.errors import PipelineError
from stages.lib.params import CollectParams, ImdbEncoding, TableSource, TextSource
from stages.lib.sources import PublishedFile, locate, sha256_of_file

KERAS_IMDB = ImdbEncoding(num_words=10000, start_char=1, oov_char=2, index_from=3)


def options(data_dir, imdb=KERAS_IMDB):
    return CollectParams(limit=None, deduplicate=True, data_dir=str(data_dir), imdb=imdb,
                         table=TableSource(path="t.csv", target="y", time_column=None, numeric=None, categorical=None,
                                           missing_values=[], exclude="auto"),
                         text=TextSource(path="t.csv", text_column="text", label_column="label", classes=None))


UNREACHABLE = "http://127.0.0.1:9/"  # the discard port: nothing listens, the connection is refused at once


def small_mnist(path, n_train=30, n_test=10):
    """mnist.npz as Keras publishes it: uint8 images (n, 28, 28) and uint8 labels, train and test."""
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
             y_train=(np.arange(n_train) % 10).astype(np.uint8),
             x_test=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
             y_test=(np.arange(n_test) % 10).astype(np.uint8))
    return path


def mnist_spec_for(path):
    """The MNIST spec, expecting the small file's own sha256 in place of the published one."""
    published = dataclasses.replace(DATASETS["mnist"].published, sha256=sha256_of_file(path))
    return dataclasses.replace(DATASETS["mnist"], published=published)


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    cache = tmp_path / "keras-cache"
    monkeypatch.setattr(sources, "KERAS_CACHE", cache)
    monkeypatch.delenv(sources.DATA_DIR_VARIABLE, raising=False)
    return cache


def test_mnist_loads_from_the_data_dir_param(tmp_path, empty_cache):
    small_mnist(tmp_path / "mnist.npz")
    spec = mnist_spec_for(tmp_path / "mnist.npz")
    x, y, _ = load_dataset(spec, options(tmp_path))
    assert x.shape == (40, 28, 28) and x.dtype == np.uint8
    assert y.dtype == np.int64 and y[:10].tolist() == list(range(10))


def test_mnist_loads_from_the_environment_variable_and_the_cache(tmp_path, empty_cache, monkeypatch):
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    spec = mnist_spec_for(small_mnist(folder / "mnist.npz"))
    monkeypatch.setenv(sources.DATA_DIR_VARIABLE, str(folder))
    assert locate(spec.published, None) == folder / "mnist.npz"
    monkeypatch.delenv(sources.DATA_DIR_VARIABLE)
    empty_cache.mkdir()
    (folder / "mnist.npz").rename(empty_cache / "mnist.npz")
    assert locate(spec.published, None) == empty_cache / "mnist.npz"


def test_corrupted_file_is_rejected(tmp_path, empty_cache):
    path = small_mnist(tmp_path / "mnist.npz")
    spec = mnist_spec_for(path)
    with open(path, "r+b") as handle:
        handle.seek(200)
        handle.write(b"\x00\x01\x02")
    with pytest.raises(PipelineError, match=r"mnist.npz has sha256 [0-9a-f]{64}, not the published"):
        load_dataset(spec, options(tmp_path))


def test_the_real_published_hash_rejects_a_stand_in(tmp_path, empty_cache):
    small_mnist(tmp_path / "mnist.npz")
    with pytest.raises(PipelineError, match="not the published 731c5ac6"):
        load_dataset(DATASETS["mnist"], options(tmp_path))


def test_offline_error_names_url_file_and_how_to_supply_it(tmp_path, empty_cache):
    published = PublishedFile("mnist.npz", UNREACHABLE + "mnist.npz", "0" * 64)
    with pytest.raises(PipelineError) as error:
        locate(published, None)
    message = str(error.value)
    assert message.startswith(f"cannot download mnist.npz from {UNREACHABLE}mnist.npz")
    assert "collect.data_dir" in message and sources.DATA_DIR_VARIABLE in message
    assert not (empty_cache / "mnist.npz").exists()


def test_data_dir_that_is_not_a_folder(tmp_path, empty_cache):
    with pytest.raises(PipelineError, match="collect.data_dir names .* which is not a folder"):
        locate(DATASETS["mnist"].published, str(tmp_path / "nope"))


def test_wrong_layout_is_named(tmp_path, empty_cache):
    np.savez(tmp_path / "mnist.npz", images=np.zeros((2, 28, 28), dtype=np.uint8))
    spec = mnist_spec_for(tmp_path / "mnist.npz")
    with pytest.raises(PipelineError, match=r"lacks the arrays \['x_train', 'y_train', 'x_test', 'y_test'\]"):
        load_dataset(spec, options(tmp_path))
