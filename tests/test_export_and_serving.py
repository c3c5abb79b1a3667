"""Export: raw inputs in, predictions out (the REST server's tests are in test_serving.py)."""
import keras
import numpy as np
import pandas as pd
import pytest

from stages.lib.errors import PipelineError
from stages.lib.export import preprocessing_model, raw_batch
from stages.lib.kinds.images import ImageFeatures
from stages.lib.kinds.sequences import MultiHotSequences
from stages.lib.kinds.table import TableFeatures
from stages.lib.kinds.text import TextFeatures
from stages.lib.sequences import Sequences
from tests.conftest import THREE_CLASSES, export_tiny_model


def export(folder, preprocessor, x, y, manifest, sparse=False):
    return export_tiny_model(folder, preprocessor, x, y, manifest, THREE_CLASSES, sparse)


def test_the_exported_image_model_takes_raw_pixels_and_matches_the_trained_model(image_export):
    assert image_export["signature"]["input"] == {
        "name": "pixels", "dtype": "float32", "shape": [8, 8],
        "description": "one image as a nested list of 8x8 pixel values"}
    assert image_export["inputs"].shape == (60, 8, 8)
    assert max(image_export["gaps"].values()) < 1e-5
    assert (image_export["folder"] / "model.keras").stat().st_size > 0


@pytest.mark.parametrize("normalization", ["minmax", "none"])
def test_every_image_normalization_is_exported(tmp_path, normalization):
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, 16, size=(40, 4, 4)), rng.integers(0, 3, 40)
    *_, gaps = export(tmp_path, ImageFeatures(normalization), x, y, {"kind": "images", "example_shape": [4, 4]})
    assert max(gaps.values()) < 1e-5


def test_token_sequences_are_exported_with_padding_that_is_not_a_word(tmp_path):
    rng = np.random.default_rng(2)
    lists = [list(rng.integers(1, 30, size=rng.integers(1, 12))) for _ in range(50)]
    x, y = Sequences.from_lists(lists), rng.integers(0, 3, 50)
    signature, inputs, _, gaps = export(tmp_path, MultiHotSequences(30), x, y, {"kind": "sequences"}, sparse=True)
    assert inputs.shape == (50, max(len(s) for s in lists)) and (inputs == 0).any()  # padded
    assert signature["input"]["max_token"] == 29 and max(gaps.values()) < 1e-5


@pytest.mark.parametrize("output_mode", ["multi_hot", "tf_idf"])
def test_texts_are_exported_with_the_fitted_vectorizer(tmp_path, output_mode):
    words = ["good", "bad", "film", "plot", "great", "awful", "actors", "music"]
    rng = np.random.default_rng(3)
    x = np.array([" ".join(rng.choice(words, size=6)) for _ in range(50)], dtype=object)
    y = rng.integers(0, 3, 50)
    signature, inputs, _, gaps = export(tmp_path, TextFeatures(output_mode, 1, 100), x, y, {"kind": "text"},
                                        sparse=True)
    assert signature["input"]["dtype"] == "string" and inputs.shape == (50,)
    assert max(gaps.values()) < 1e-5


def table(n, seed):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"mean radius": rng.normal(14, 3, n), "age": rng.normal(50, 10, n),
                          "city": rng.choice(["paris", "lyon", "nice"], size=n).astype(object)})
    frame.loc[::7, "mean radius"] = np.nan
    frame.loc[::5, "city"] = None
    return frame


@pytest.mark.parametrize("normalization", ["standard", "minmax", "none"])
def test_a_table_is_exported_with_imputation_indicators_scaling_and_one_hot(tmp_path, normalization):
    x, y = table(60, 4), np.random.default_rng(4).integers(0, 3, 60)
    preprocessor = TableFeatures(["mean radius", "age"], ["city"], normalization, "median", 5)
    signature, inputs, _, gaps = export(tmp_path, preprocessor, x, y, {"kind": "table"})
    assert [c["input"] for c in signature["input"]["columns"]] == ["mean_radius", "age", "city"]
    assert signature["input"]["categories"] == {"city": ["lyon", "missing", "nice", "paris"]}
    assert max(gaps.values()) < 1e-5
    unseen = x.assign(city="marseille")  # an unseen category encodes as all zeros, as OneHotEncoder does
    model = keras.models.load_model(tmp_path / "model.keras")  # TablePreprocessing is registered on import
    trained = model.layers[-1]
    assert np.allclose(model.predict(raw_batch(unseen, signature["input"]), verbose=0),
                       trained.predict(preprocessor.transform(unseen), verbose=0), atol=1e-5)


def test_columns_named_like_the_exported_model_s_layers_get_inputs_of_their_own(tmp_path):
    from stages.lib.kinds.table import LAYER_NAMES
    from stages.lib.models import build_model

    assert build_model(2, THREE_CLASSES, [4], "rmsprop", 0.01).name in LAYER_NAMES
    rng = np.random.default_rng(6)
    x = pd.DataFrame({"mlp": rng.normal(size=40),
                      "table_preprocessing": rng.choice(["a", "b"], size=40).astype(object)})
    signature, _, _, gaps = export(tmp_path, TableFeatures(["mlp"], ["table_preprocessing"], "standard", "median", 5),
                                   x, rng.integers(0, 3, 40), {"kind": "table"})
    assert [c["input"] for c in signature["input"]["columns"]] == ["mlp_", "table_preprocessing_"]
    assert max(gaps.values()) < 1e-5


def test_a_table_with_knn_imputation_is_refused_with_the_fix():
    preprocessor = TableFeatures(["mean radius", "age"], ["city"], "standard", "knn", 3).fit(table(30, 5))
    with pytest.raises(PipelineError, match="vectorize.imputation: knn is not supported.*set vectorize.imputation: "
                                            "median"):
        preprocessing_model(preprocessor, {"kind": "table"})


def coded_table(n, seed, codes=40):
    """A numeric column and a code of `codes` values of skewed frequencies (issue 27's tail numbers)."""
    rng = np.random.default_rng(seed)
    shares = 1 / np.arange(1, codes + 1)
    return pd.DataFrame({"age": rng.normal(50, 10, n),
                         "tail": rng.choice([f"N{i:03d}" for i in range(codes)], size=n, p=shares / shares.sum())
                         .astype(object)})


def test_a_capped_categorical_keeps_its_frequent_values_and_one_column_for_the_rest():
    from scipy.sparse import issparse

    x = coded_table(400, 7)
    capped = TableFeatures(["age"], ["tail"], "standard", "median", 5, max_categories=5).fit(x)
    features = capped.transform(x)
    statistics = capped.statistics()
    frequent = x["tail"].value_counts().index[:4]
    assert statistics["categories"] == {"tail": sorted(frequent)} and statistics["other_values"] == ["tail"]
    assert features.shape == (400, 1 + 5)  # age, 4 frequent codes, one column for the 36 others
    dense = features.toarray() if issparse(features) else features
    assert np.array_equal(dense[:, -1] == 1, ~x["tail"].isin(frequent).to_numpy())
    unseen = capped.transform(x.assign(tail="N999"))  # a value unseen in training is one of the others
    unseen = unseen.toarray() if issparse(unseen) else unseen
    assert (unseen[:, -1] == 1).all() and (unseen[:, 1:-1] == 0).all()


def test_many_one_hot_columns_are_sparse_and_a_small_table_stays_dense_and_unchanged():
    from scipy.sparse import issparse

    from stages.lib.artifacts import storage_note

    x = coded_table(400, 8)
    wide = TableFeatures(["age"], ["tail"], "standard", "median", 5, max_categories=1000).fit(x).transform(x)
    assert issparse(wide) and wide.dtype == np.float32 and wide.shape == (400, 1 + x["tail"].nunique()) and wide.nnz == 800
    assert storage_note(wide) == f"sparse, {800 / wide.shape[0] / wide.shape[1]:.1%} non-zero"
    small = table(60, 4)
    capped = TableFeatures(["mean radius", "age"], ["city"], "standard", "median", 5, max_categories=1000)
    uncapped = TableFeatures(["mean radius", "age"], ["city"], "standard", "median", 5)
    dense = capped.fit(small).transform(small)
    assert not issparse(dense) and np.array_equal(dense, uncapped.fit(small).transform(small))
    assert storage_note(dense) == "dense"
    assert capped.statistics()["other_values"] == []


def test_a_capped_sparse_table_is_exported_and_an_unseen_value_goes_to_the_other_column(tmp_path):
    x, y = coded_table(300, 9), np.random.default_rng(9).integers(0, 3, 300)
    preprocessor = TableFeatures(["age"], ["tail"], "standard", "median", 5, max_categories=8)
    signature, inputs, _, gaps = export(tmp_path, preprocessor, x, y, {"kind": "table"}, sparse=True)
    assert signature["input"]["other_values"] == ["tail"] and len(signature["input"]["categories"]["tail"]) == 7
    assert max(gaps.values()) < 1e-5
    unseen = x.assign(tail="N999")
    model = keras.models.load_model(tmp_path / "model.keras")
    assert np.allclose(model.predict(raw_batch(unseen, signature["input"]), verbose=0),
                       model.layers[-1].predict(preprocessor.transform(unseen), verbose=0), atol=1e-5)


def test_the_saved_model_is_checked_batch_by_batch_on_every_row(tmp_path, monkeypatch):
    import stages.lib.export as export_module

    monkeypatch.setattr(export_module, "SERVE_BATCH", 7)  # 60 rows: 8 full batches and one of 4
    x, y = table(60, 4), np.random.default_rng(4).integers(0, 3, 60)
    preprocessor = TableFeatures(["mean radius", "age"], ["city"], "standard", "median", 5)
    _, inputs, expected, gaps = export(tmp_path, preprocessor, x, y, {"kind": "table"})
    assert len(export_module.batch_rows(inputs, 56, 63)["city"]) == 4 and max(gaps.values()) < 1e-5
    shuffled = expected[::-1]  # a row out of place would show as a gap
    assert export_module.output_gaps(tmp_path, keras.models.load_model(tmp_path / "model.keras"), inputs,
                                     shuffled)["saved_model"] > 1e-3


@pytest.mark.parametrize("normalization", ["standard", "minmax"])
def test_a_table_of_categories_only_is_vectorized_and_exported(tmp_path, normalization):
    x, y = table(60, 6)[["city"]], np.random.default_rng(6).integers(0, 3, 60)
    preprocessor = TableFeatures([], ["city"], normalization, "median", 5)
    signature, inputs, _, gaps = export(tmp_path, preprocessor, x, y, {"kind": "table"})
    assert max(gaps.values()) < 1e-5 and preprocessor.statistics()["scaler"]["kind"] == normalization
    assert preprocessor.transform(x).shape == (60, 4)  # lyon, missing, nice, paris
