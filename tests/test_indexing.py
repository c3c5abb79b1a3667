"""Indexed categories: Vocabulary's positions and indices, and IndexedDense's output, are one-hot encoding and Dense."""
import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import OneHotEncoder

from stages.lib.features import fill_missing
from stages.lib.indexing import Vocabulary


def frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"code": rng.choice([f"c{k}" for k in range(40)], rows, p=np.arange(40, 0, -1) / 820),
                         "city": rng.choice(["a", "b", "c"], rows)})


def fit(train: pd.DataFrame, max_categories=None) -> list:
    return [Vocabulary(max_categories).fit(fill_missing(train[name])) for name in train.columns]


def indices_of(x: pd.DataFrame, vocabularies: list) -> np.ndarray:
    return np.column_stack([v.indices(fill_missing(x[name])) for name, v in zip(x.columns, vocabularies)])


def one_hot_from(indices: np.ndarray, vocabularies: list) -> np.ndarray:
    """The one-hot matrix the indices stand for (an uncapped column's unseen index: all zeros)."""
    blocks = []
    for column, vocabulary in enumerate(vocabularies):
        block = np.zeros((len(indices), vocabulary.width), dtype=np.float32)
        seen = indices[:, column] < vocabulary.width
        block[np.flatnonzero(seen), indices[seen, column].astype(int)] = 1
        blocks.append(block)
    return np.hstack(blocks)


@pytest.mark.parametrize("max_categories", [None, 10, 1])
def test_vocabulary_keeps_what_one_hot_encoding_keeps_unseen_and_rare_values_included(max_categories):
    train, later = frame(2000, 0), frame(500, 1)
    later.loc[:9, "code"] = "never seen"
    later.loc[10:19, "city"] = "z"
    train.loc[::50, "city"] = None  # a gap: the category "missing"
    vocabularies = fit(train, max_categories)
    encoder = OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=max_categories).fit(
        train.apply(fill_missing).astype(object))
    indices = indices_of(later, vocabularies)
    assert indices.dtype == np.float32 and indices.shape == (500, 2)
    np.testing.assert_array_equal(one_hot_from(indices, vocabularies),
                                  encoder.transform(later.apply(fill_missing).astype(object)).toarray())
    assert [n for name, v in zip(train.columns, vocabularies) for n in v.one_hot_names(name)] == \
        list(encoder.get_feature_names_out())
    widths = {None: [40, 4], 10: [10, 4], 1: [1, 1]}[max_categories]
    assert [v.width for v in vocabularies] == widths
    assert [v.capped for v in vocabularies] == [max_categories is not None, max_categories == 1]
    assert [v.size for v in vocabularies] == [w + (not v.capped) for w, v in zip(widths, vocabularies)]
    assert (indices[:10, 0] == widths[0] - (max_categories is not None)).all()  # unseen: past the values, or "other"


def test_a_vocabulary_reads_a_column_read_as_categories_as_one_of_strings():
    train, later = frame(500, 2), frame(200, 3)
    vocabulary = Vocabulary(8).fit(fill_missing(train["code"]))
    as_categories = Vocabulary(8).fit(fill_missing(train["code"].astype("category")))
    assert as_categories.values == vocabulary.values
    np.testing.assert_array_equal(as_categories.positions(fill_missing(later["code"].astype("category"))),
                                  vocabulary.positions(fill_missing(later["code"])))


@pytest.mark.parametrize("regularizer", [None, "l2"])
def test_indexed_dense_is_dense_over_the_one_hot_columns(regularizer, tmp_path):
    import keras

    from stages.lib.table_layer import IndexedDense

    train, later = frame(2000, 0), frame(300, 1)
    later.loc[:9, "code"] = "never seen"
    vocabularies = fit(train)
    numbers = np.random.default_rng(2).normal(size=(300, 3)).astype(np.float32)
    indices = indices_of(later, vocabularies)
    x = np.hstack([numbers[:, :1], indices[:, :1], numbers[:, 1:], indices[:, 1:]])  # indices between numbers
    layer = IndexedDense(8, positions=[1, 4], sizes=[v.size for v in vocabularies],
                         masked=[not v.capped for v in vocabularies],
                         activation="relu", kernel_regularizer=regularizer)
    model = keras.Sequential([keras.Input(shape=(5,)), layer])
    rng = np.random.default_rng(3)
    layer.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in layer.get_weights()])
    kernel, code, city, bias = layer.get_weights()
    dense_kernel = np.vstack([kernel, code[:-1], city[:-1]])  # the unseen rows have no one-hot column
    dense = keras.Sequential([keras.Input(shape=(3 + 43,)), keras.layers.Dense(8, activation="relu")])
    dense.set_weights([dense_kernel, bias])
    expected = dense.predict(np.hstack([numbers, one_hot_from(indices, vocabularies)]), verbose=0)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)
    model.save(tmp_path / "model.keras")
    np.testing.assert_array_equal(keras.saving.load_model(tmp_path / "model.keras").predict(x, verbose=0),
                                  model.predict(x, verbose=0))
    if regularizer:
        assert len(model.losses) == 3  # the kernel and both embeddings, as a Dense kernel's every row


@pytest.mark.parametrize("max_categories", [None, 10])
def test_a_table_s_many_valued_column_becomes_its_indices_last_and_the_rest_is_unchanged(max_categories):
    from stages.lib.kinds.table import TableFeatures

    train, later = frame(2000, 0), frame(400, 1)
    for part, seed in ((train, 4), (later, 5)):
        part["size"] = np.random.default_rng(seed).normal(size=len(part))
        part.loc[::7, "size"] = np.nan
    later.loc[:4, "code"] = "never seen"
    make = lambda above: TableFeatures(["size"], ["code", "city"], "standard", "median", 5, max_categories,
                                       above).fit(train)
    one_hot, indexed = make(None), make(5)
    assert indexed.indexed == ["code"] and indexed.one_hot == ["city"]
    expected, features = one_hot.transform(later), indexed.transform(later)
    expected = expected.toarray() if hasattr(expected, "toarray") else expected
    assert isinstance(features, np.ndarray) and features.shape == (400, 2 + 3 + 1)
    code = slice(2, 2 + (10 if max_categories else 40))
    np.testing.assert_array_equal(features[:, :2], expected[:, :2])  # the number and its gaps
    np.testing.assert_array_equal(features[:, 2:5], expected[:, code.stop:])  # city, one-hot
    np.testing.assert_array_equal(one_hot_from(features[:, 5:], [indexed.vocabularies["code"]]), expected[:, code])
    statistics, before = indexed.statistics(), one_hot.statistics()
    assert statistics["categories"] == before["categories"] and statistics["other_values"] == before["other_values"]
    assert statistics["indexed"] == {"columns": ["code"], "above": 5, "positions": [5],
                                     "sizes": [10 if max_categories else 41], "masked": [max_categories is None]}
    assert "indexed" not in before and statistics["feature_names"][-1] == "indexed__code_index"


@pytest.mark.parametrize("max_categories", [None, 8])
def test_an_indexed_table_is_exported_and_serves_unseen_values_as_training_encoded_them(tmp_path, max_categories):
    import keras

    from stages.lib.export import raw_batch
    from stages.lib.kinds.table import TableFeatures
    from tests.conftest import THREE_CLASSES, export_tiny_model

    x = frame(300, 9)
    x["size"] = np.random.default_rng(9).normal(size=300)
    y = np.random.default_rng(9).integers(0, 3, 300)
    preprocessor = TableFeatures(["size"], ["code", "city"], "standard", "median", 5, max_categories, 5)
    signature, _, _, gaps = export_tiny_model(tmp_path, preprocessor, x, y, {"kind": "table"}, THREE_CLASSES)
    assert max(gaps.values()) < 1e-5 and preprocessor.indexed == ["code"]
    unseen = x.assign(code="never seen")
    model = keras.models.load_model(tmp_path / "model.keras")
    features = preprocessor.transform(unseen)
    values = len(preprocessor.statistics()["categories"]["code"])  # 7 own values and "other", or every value seen
    assert values == 7 if max_categories else values > 30
    assert (features[:, -1] == values).all()
    np.testing.assert_allclose(model.predict(raw_batch(unseen, signature["input"]), verbose=0),
                               model.layers[-1].predict(features, verbose=0), atol=1e-5)


def test_pruning_an_indexed_dense_layer_zeros_its_kernel_and_embeddings_together():
    from stages.lib.models import build_model
    from stages.lib.optimization import prune, sparsity_of
    from tests.conftest import THREE_CLASSES

    indexed = {"columns": ["code"], "positions": [2], "sizes": [30], "masked": [False]}
    model = build_model(3, THREE_CLASSES, [16], "rmsprop", 0.01, indexed=indexed)
    first = model.layers[0]
    assert type(first).__name__ == "IndexedDense" and first.embeddings[0].shape == (30, 16)
    masks = prune(model, 0.8)
    assert len(masks) == 3  # the first layer's kernel and embedding, the output kernel
    assert abs(sparsity_of(masks) - 0.8) < 0.02
    kept = np.concatenate([np.asarray(first.kernel).ravel(), np.asarray(first.embeddings[0]).ravel()])
    assert abs((kept == 0).mean() - 0.8) < 0.02


def test_index_above_auto_indexes_the_many_valued_columns_only_where_one_hot_features_would_be_sparse():
    from stages.lib.kinds.table import AUTO_INDEX_ABOVE, TableFeatures, index_threshold

    assert index_threshold(None, [4000], 1) is None and index_threshold(7, [3], 1) == 7  # as set
    assert index_threshold("auto", [40, 3], 2) == AUTO_INDEX_ABOVE  # 4 non-zeros of 45 columns: sparse
    assert index_threshold("auto", [20], 10) is None  # 11 of 30: one-hot stays dense
    # Forty 10-value columns beside a 100-value one: indexing the latter alone leaves 43 of 403 non-zero, so the
    # 10-value ones are indexed too (a dense 43-wide rest, not a 403-wide one).
    assert index_threshold("auto", [10] * 40 + [100], 2) == 9
    train = frame(2000, 0)  # code: 40 values, city: 3
    train["size"] = np.random.default_rng(4).normal(size=len(train))
    auto = TableFeatures(["size"], ["code", "city"], "standard", "median", 5, None, "auto").fit(train)
    assert auto.indexed == ["code"] and auto.one_hot == ["city"] and auto.statistics()["indexed"]["above"] == 16
    numbers = train.assign(**{f"n{i}": train["size"] * i for i in range(20)})
    wide = TableFeatures(["size"] + [f"n{i}" for i in range(20)], ["code", "city"], "standard", "median", 5, None,
                         "auto").fit(numbers)  # 23 non-zeros of 64 columns: one-hot, dense
    assert wide.indexed == [] and isinstance(wide.transform(numbers), np.ndarray)
