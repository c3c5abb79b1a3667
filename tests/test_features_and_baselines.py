import numpy as np
import pytest

from stages import vectorize
from stages.lib import paths
from stages.lib.artifacts import read_features
from stages.lib.baselines import best_baseline, chance_accuracy, score_baselines
from stages.lib.errors import PipelineError
from stages.lib.features import fit_normalizer, flatten, normalizer_statistics, transform
from stages.lib.io import read_json, write_json
from tests.conftest import digits_like, write_raw


def test_flatten_refuses_nan_and_inf():
    x = np.zeros((3, 2, 2))
    x[1, 1, 0] = np.nan
    with pytest.raises(PipelineError, match="the train split has 1 NaN/infinite feature value.*example 1 feature f2"):
        flatten(x, "the train split")
    assert flatten(np.ones((2, 2, 2)), "x").dtype == np.float32


@pytest.mark.parametrize("kind", ["standard", "minmax", "none"])
def test_normalizer_statistics_come_from_training_data_only(kind):
    train = np.array([[0.0, 10.0], [2.0, 30.0]], dtype=np.float32)
    scaler = fit_normalizer(train, kind)
    stats = normalizer_statistics(scaler, kind)
    other = np.array([[1000.0, -1000.0]], dtype=np.float32)
    if kind == "standard":
        np.testing.assert_allclose(stats["mean"], [1.0, 20.0])
        np.testing.assert_allclose(transform(scaler, train).mean(axis=0), 0.0)
    if kind == "minmax":
        np.testing.assert_allclose(stats["data_max"], [2.0, 30.0])
    if kind == "none":
        np.testing.assert_array_equal(transform(scaler, other), other)


def test_vectorize_stage_fits_on_train_and_writes_float32(project):
    x, y = digits_like()
    write_raw(project, x, y)
    order = np.arange(len(y))
    split = {"test": order[order % 5 == 0].tolist(),
             "folds": [{"train": order[order % 5 > 1].tolist(), "validation": order[order % 5 == 1].tolist()}]}
    write_json(project / paths.SPLIT, split)
    vectorize.main()
    x_train, y_train = read_features("train")
    x_test, _ = read_features("test")
    assert x_train.dtype == np.float32 and x_train.shape == (180, 64)
    np.testing.assert_array_equal(y_train, y[split["folds"][0]["train"]])
    stats = read_json(paths.NORMALIZER)
    np.testing.assert_allclose(stats["mean"], x[split["folds"][0]["train"]].reshape(180, -1).mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(x_train.mean(axis=0), 0.0, atol=1e-5)
    assert abs(x_test.mean()) > 1e-4  # test statistics were not used for fitting


def test_baselines_score_near_chance_and_best_is_chosen_on_validation():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 50)
    x = rng.normal(size=(200, 3))
    pair = (x, y)
    scores = score_baselines(["most_frequent", "stratified", "uniform"], pair, pair, pair, seed=0)
    assert scores["most_frequent"]["test_accuracy"] == pytest.approx(0.25)
    assert all(0.1 < s["validation_accuracy"] < 0.4 for s in scores.values())
    scores["stratified"]["validation_accuracy"] = scores["most_frequent"]["validation_accuracy"]
    assert best_baseline(scores)[0] == "most_frequent"
    scores["uniform"]["validation_accuracy"] = 0.9
    assert best_baseline(scores) == ("uniform", scores["uniform"]["test_accuracy"])
    assert chance_accuracy(np.array([0, 0, 0, 1])) == 0.75
