"""Vectorization fitted on training data only, for every data kind; baselines scored like models."""
import dataclasses

import numpy as np
import pandas as pd
import pytest

from stages import vectorize
from stages.lib import paths
from stages.lib.artifacts import read_features
from stages.lib.baselines import baseline_output, best_baseline, chance_level, fit_baseline, strategies_for
from stages.lib.errors import PipelineError
from stages.lib.evaluation import task_scores
from stages.lib.features import flatten
from stages.lib.kinds.images import ImageFeatures
from stages.lib.kinds.table import TableFeatures
from stages.lib.kinds.text import TextFeatures
from stages.lib.io import read_json, write_json
from stages.lib.task import define_task
from stages.lib.splitting import write_split
from tests.conftest import digits_like, holdout_split, write_raw


def test_flatten_refuses_nan_and_inf():
    x = np.zeros((3, 2, 2))
    x[1, 1, 0] = np.nan
    with pytest.raises(PipelineError, match="the train split has 1 NaN/infinite feature value.*example 1 feature f2"):
        flatten(x, "the train split")
    assert flatten(np.ones((2, 2, 2)), "x").dtype == np.float32


@pytest.mark.parametrize("kind", ["standard", "minmax", "none"])
def test_image_normalization_pools_every_pixel_of_the_training_images_only(kind):
    train = np.array([[0.0, 10.0], [2.0, 30.0]])
    features = ImageFeatures(kind).fit(train)
    stats = features.statistics()
    other = np.array([[1000.0, -1000.0]])
    if kind == "standard":
        np.testing.assert_allclose(stats["mean"], [10.5, 10.5])
        np.testing.assert_allclose(stats["scale"], [train.std()] * 2)
        np.testing.assert_allclose(features.transform(train).mean(), 0.0, atol=1e-6)
        np.testing.assert_allclose(features.transform(other), (other - 10.5) / train.std(), rtol=1e-6)
    if kind == "minmax":
        np.testing.assert_allclose(stats["data_max"], [30.0, 30.0])
        np.testing.assert_allclose(features.transform(train), train / 30.0, rtol=1e-6)
    if kind == "none":
        np.testing.assert_array_equal(features.transform(other), other)


def test_a_pixel_blank_in_nearly_every_training_image_is_not_blown_up():
    train = np.zeros((1000, 2, 2))
    train[:, 0, 0] = np.linspace(0, 255, 1000)
    train[0, 1, 1] = 255  # ink in one image of a thousand at this pixel
    features = ImageFeatures("standard").fit(train)
    new = np.full((1, 2, 2), 255.0)
    transformed = features.transform(new)
    assert np.ptp(transformed) == 0  # the same ink is the same feature at every pixel
    assert transformed.max() < 5


def table(values, colours) -> pd.DataFrame:
    return pd.DataFrame({"size": pd.array(values, dtype="float64"), "colour": pd.array(colours, dtype="string")})


def table_features(imputation: str) -> TableFeatures:
    return TableFeatures(["size"], ["colour"], "standard", imputation, knn_neighbors=2)


@pytest.mark.parametrize("imputation", ["median", "knn"])
def test_table_imputation_and_encoding_learn_from_training_rows_only(imputation):
    train = table([1.0, 2.0, np.nan, 4.0, 100.0], ["red", "blue", "red", None, "red"])
    # Validation rows with values far from training: fitting on them would move every statistic.
    validation = table([np.nan, 5000.0, 6000.0], ["green", None, "blue"])
    features = table_features(imputation).fit(train)
    stats = features.statistics()
    assert stats["feature_names"] == ["numeric__size", "missing__missingindicator_size", "categorical__colour_blue",
                                      "categorical__colour_missing", "categorical__colour_red"]
    assert stats["categories"] == {"colour": ["blue", "missing", "red"]}
    observed = [1.0, 2.0, 4.0, 100.0]
    imputed = np.median(observed) if imputation == "median" else None
    if imputation == "median":
        assert stats["medians"] == {"size": imputed}
    else:
        assert stats["knn"] == {"n_neighbors": 2, "reference_rows": 5}
    filled = pd.Series(train["size"]).fillna(imputed if imputed is not None else 0).to_numpy()
    if imputation == "median":
        assert stats["scaler"]["mean"][0] == pytest.approx(filled.mean())
    encoded = features.transform(validation)
    assert encoded.dtype == np.float32 and encoded.shape == (3, 5)
    assert encoded[:, 1].tolist() == [1.0, 0.0, 0.0]  # the missing indicator
    assert encoded[0, 2:].tolist() == [0.0, 0.0, 0.0]  # "green" was never seen in training: all zeros
    assert encoded[1, 2:].tolist() == [0.0, 1.0, 0.0]  # a gap is the "missing" category
    mean, scale = stats["scaler"]["mean"][0], stats["scaler"]["scale"][0]
    size_of_gap = encoded[0, 0] * scale + mean
    assert 1.0 <= size_of_gap <= 100.0  # filled from training values, never from 5000/6000


def test_text_vocabulary_comes_from_training_texts_only():
    train = np.array(["a good film", "a bad film", "good good acting"], dtype=object)
    features = TextFeatures("multi_hot", 1, 20).fit(train)
    vocabulary = features.statistics()["vocabulary"]
    assert set(vocabulary) == {"[UNK]", "a", "good", "film", "bad", "acting"}
    encoded = features.transform(np.array(["unseenword good"], dtype=object))
    assert encoded.shape == (1, len(vocabulary))
    assert encoded.toarray()[0, vocabulary.index("good")] == 1.0 and encoded.toarray()[0, 0] == 1.0  # [UNK]


def test_text_bigrams_and_tf_idf():
    train = np.array(["not good at all", "very good indeed", "not bad"], dtype=object)
    features = TextFeatures("tf_idf", 2, 50).fit(train)
    stats = features.statistics()
    assert "not good" in stats["vocabulary"] and len(stats["idf_weights"]) == len(stats["vocabulary"])
    encoded = features.transform(train)
    assert encoded.dtype == np.float32 and set(np.unique(encoded.data)) - {1.0}


def test_vectorize_stage_writes_every_fold_and_the_final_features(project):
    x, y = digits_like()
    write_raw(project, x, y)
    split = holdout_split(y)
    write_split(split, project)
    vectorize.main()
    x_train, y_train = read_features("train", 0)
    x_test, _ = read_features("test")
    x_development, y_development = read_features("development")
    assert x_train.dtype == np.float32 and x_train.shape == (180, 64) and x_development.shape == (240, 64)
    np.testing.assert_array_equal(y_train, y[split["folds"][0]["train"]])
    np.testing.assert_array_equal(y_development, y[split["development"]])
    fold_stats = read_json(f"{paths.FOLD_FEATURES_DIR}/0/preprocessing.json")
    np.testing.assert_allclose(fold_stats["mean"], np.full(64, x[split["folds"][0]["train"]].mean()),
                               atol=1e-5)
    final_stats = read_json(paths.PREPROCESSING)
    np.testing.assert_allclose(final_stats["mean"], np.full(64, x[split["development"]].mean()), atol=1e-5)
    np.testing.assert_allclose(x_train.mean(), 0.0, atol=1e-5)
    assert abs(x_test.mean()) > 1e-4  # test statistics were not used for fitting


def test_baselines_score_like_models():
    task = define_task("x", "classification", {"0": 50, "1": 50, "2": 50, "3": 50}, 3.0)
    y = np.repeat(np.arange(4), 50)
    x = np.random.default_rng(0).normal(size=(200, 3))
    model = fit_baseline(task, "most_frequent", x, y, 0)
    assert task_scores(task, y, baseline_output(task, model, x))["accuracy"] == pytest.approx(0.25)
    assert chance_level(task, np.array([0, 0, 0, 1])) == 0.75


def test_regression_baselines_predict_the_training_mean():
    task = define_task("x", "regression", None, 3.0)
    y = np.array([1.0, 2.0, 6.0])
    model = fit_baseline(task, "mean", np.zeros((3, 1)), y, 0)
    assert baseline_output(task, model, np.zeros((2, 1))).tolist() == [3.0, 3.0]
    assert chance_level(task, y) == pytest.approx(np.mean(np.abs(y - 3.0)))
    assert strategies_for(task, ["most_frequent"], ["median", "mean"]) == ["mean", "median"]


def test_a_time_ordered_split_adds_the_last_known_value():
    task = define_task("x", "regression", None, 3.0)
    assert strategies_for(task, [], ["median"], time_ordered=True) == ["mean", "median", "last_value"]
    y = np.array([5.0, 1.0, 2.0, 9.0, 3.0])  # rows out of time order; the latest time holds two rows
    times = np.array([3, 1, 2, 4, 4])
    model = fit_baseline(task, "last_value", np.zeros((5, 1)), y, 0, times)
    assert baseline_output(task, model, np.zeros((2, 1))).tolist() == [6.0, 6.0]  # the mean of 9 and 3


def test_the_last_known_class_gets_all_the_probability():
    task = define_task("x", "classification", {"0": 40, "1": 40, "2": 40}, 3.0)
    times = np.array(["2024-01-01", "2024-01-03", "2024-01-03", "2024-01-03", "2024-01-02"], dtype="datetime64[D]")
    model = fit_baseline(task, "last_value", np.zeros((5, 1)), np.array([0, 2, 1, 2, 1]), 0, times)
    assert baseline_output(task, model, np.zeros((2, 1))).tolist() == [[0.0, 0.0, 1.0]] * 2
    assert task_scores(task, np.array([2, 0]), baseline_output(task, model, np.zeros((2, 1))))["accuracy"] == 0.5


def test_a_trending_series_makes_the_last_value_the_baseline_to_beat():
    task = define_task("x", "regression", None, 3.0)
    months = np.arange(100)
    y = 10.0 * months + np.random.default_rng(0).normal(0, 1, 100)
    train, later = months[:80], months[80:]
    scores = {}
    for strategy in ("mean", "median", "last_value"):
        model = fit_baseline(task, strategy, np.zeros((80, 1)), y[train], 0, train)
        scores[strategy] = {"validation_mean": task_scores(task, y[later], baseline_output(task, model,
                                                                                             np.zeros((20, 1))))}
    assert best_baseline(scores, "mae", greater_is_better=False) == "last_value"
    assert scores["last_value"]["validation_mean"]["mae"] < scores["mean"]["validation_mean"]["mae"] / 3


def test_best_baseline_is_chosen_on_validation_in_the_metrics_direction():
    scores = {"mean": {"validation_mean": {"mae": 5.0}}, "median": {"validation_mean": {"mae": 4.0}}}
    assert best_baseline(scores, "mae", greater_is_better=False) == "median"
    assert best_baseline(scores, "mae", greater_is_better=True) == "mean"


def test_the_keras_table_layer_matches_vectorize_on_messy_columns():
    """Booleans as "true"/"false", a mostly empty column, a column empty in every training row, a constant,
    country codes such as "NA" and an unseen category: the exported layer computes vectorize's features."""
    import keras

    from stages.lib.export import inference_model, preprocessing_model, raw_batch

    rng = np.random.default_rng(0)
    n = 40
    sparse = rng.normal(10, 2, n)
    sparse[rng.random(n) < 0.7] = np.nan
    train = pd.DataFrame({
        "sparse": sparse, "empty": np.nan, "flat": 5.0, "age": rng.integers(18, 80, n).astype(float),
        "member": pd.array(rng.choice(["true", "false", None], n), dtype="string"),
        "country": pd.array(rng.choice(["NA", "FR", "None"], n), dtype="string"),
    })
    numeric, categorical = ["sparse", "empty", "flat", "age"], ["member", "country"]
    preprocessor = TableFeatures(numeric, categorical, "standard", "median", 2).fit(train)
    serving = train.assign(empty=[1.0, np.nan] * 20, country=["DE", "NA"] * 20)
    expected = preprocessor.transform(serving)
    assert np.isfinite(expected).all() and expected.shape == (40, 4 + 2 + 3 + 3)
    task = dataclasses.replace(define_task("x", "regression", None, 3.0), output_units=expected.shape[1])
    manifest = {"kind": "table"}
    model, signature = inference_model(preprocessing_model(preprocessor, manifest), keras.layers.Identity(),
                                       preprocessor.statistics(), manifest, task)
    actual = model.predict(raw_batch(serving, signature["input"]), verbose=0)
    np.testing.assert_allclose(actual, expected, atol=1e-5)
