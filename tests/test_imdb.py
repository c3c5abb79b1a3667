"""IMDB through collect, split, validate, vectorize and a sparse model, on a small imdb.npz
made in the published layout (object arrays of word-rank lists)."""
import dataclasses
import json

import numpy as np
import pytest
import yaml
from scipy.sparse import issparse

from stages import collect, split, validate, vectorize
from stages.lib import datasets, paths
from stages.lib.artifacts import read_features
from stages.lib.errors import PipelineError
from stages.lib.kinds import read_raw
from stages.lib.sequences import Sequences
from stages.lib.sources import sha256_of_file
from tests.conftest import with_changes, write_params
from tests.test_model_card import assert_the_card_shows_the_headline

WORDS = 60  # distinct word ranks in the small corpus


def small_imdb(path, n_train=60, n_test=40, seed=0):
    """Reviews whose words 4..13 lean positive and 14..23 negative, so a model can learn them."""
    rng = np.random.default_rng(seed)

    def reviews(n):
        labels = np.arange(n) % 2
        texts = []
        for label in labels:
            lean = rng.integers(4, 14, 5) if label else rng.integers(14, 24, 5)
            texts.append([int(w) for w in np.concatenate([lean, rng.integers(1, WORDS, rng.integers(3, 15))])])
        return np.array(texts + [[1]], dtype=object)[:-1], labels.astype(np.int64)

    x_train, y_train = reviews(n_train)
    x_test, y_test = reviews(n_test)
    x_train[5] = list(x_train[3])  # a duplicate review, as the real file has
    y_train[5] = y_train[3]
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


@pytest.fixture
def imdb_project(project, default_params, monkeypatch, tmp_path_factory):
    folder = tmp_path_factory.mktemp("imdb-files")
    path = small_imdb(folder / "imdb.npz")
    spec = datasets.DATASETS["imdb"]
    monkeypatch.setitem(datasets.DATASETS, "imdb", dataclasses.replace(
        spec, published=dataclasses.replace(spec.published, sha256=sha256_of_file(path))))
    params = with_changes(default_params, task={"dataset": "imdb"}, split={"protocol": "holdout"},
                          collect={"data_dir": str(folder), "imdb": {**default_params["collect"]["imdb"], "num_words": 40}})
    write_params(project, params)
    return project


def test_imdb_collect_keeps_keras_encoding_and_drops_duplicates(imdb_project):
    collect.main()
    x, y = read_raw()
    assert isinstance(x, Sequences) and len(x) == 99 and len(y) == 99
    first = x[[0]].tokens.tolist()
    assert first[0] == 1 and max(x.tokens) <= 39 and 2 in x.tokens  # start char; ids >= num_words became oov
    record = json.loads((imdb_project / paths.RAW_MANIFEST).read_text())
    assert record["duplicates_removed"] == 1 and record["published_file"]["name"] == "imdb.npz"


def test_imdb_through_validation_vectorization_and_a_sparse_model(imdb_project, default_params):
    from stages.lib.models import fit_mlp
    from stages.lib.params import TrainingParams
    from stages.lib.task import define_task

    collect.main()
    split.main()
    validate.main()
    assert json.loads((imdb_project / paths.VALIDATION).read_text())["success"]
    vectorize.main()
    x_train, y_train = read_features("train", 0)
    assert x_train.shape[1] == 40 and x_train.dtype == np.float32 and issparse(x_train)
    assert set(np.unique(x_train.data)) == {1.0}
    task = define_task("imdb", "classification", {"0": 50, "1": 49}, 3.0)
    settings = TrainingParams(epochs=30, batch_size=16, optimizer="rmsprop", learning_rate=1e-2)
    model, history = fit_mlp(task, (x_train, y_train), read_features("validation", 0), settings, 0, [16, 16], verbose=0)
    assert history["accuracy"].iloc[-1] > 0.9
    probabilities = model.predict(read_features("test")[0], verbose=0)
    assert probabilities.shape == (len(read_features("test")[1]), 1)


def test_token_ids_out_of_range_fail_validation(imdb_project, default_params):
    collect.main()
    split.main()
    # Validate against a smaller vocabulary than the data was encoded with.
    write_params(imdb_project, with_changes(default_params, task={"dataset": "imdb"}, split={"protocol": "holdout"},
                 collect={"imdb": {**default_params["collect"]["imdb"], "num_words": 20}}))
    with pytest.raises(PipelineError, match=r"\[schema_and_ranges\] expect_column_values_to_be_between\(column=max, max_value=19"):
        validate.main()


def test_imdb_with_another_files_hash_is_rejected(imdb_project, monkeypatch):
    spec = datasets.DATASETS["imdb"]
    monkeypatch.setitem(datasets.DATASETS, "imdb", dataclasses.replace(
        spec, published=dataclasses.replace(spec.published, sha256="0" * 64)))
    with pytest.raises(PipelineError, match="imdb.npz has sha256 .*, not the published 0000"):
        collect.main()
    assert not (imdb_project / paths.RAW_DIR).exists()


def test_every_stage_runs_on_imdb_studies_included(imdb_project, default_params):
    from stages import baseline, define_task, evaluate, export, model_card, optimize, overfit, regularize, studies

    params = yaml.safe_load((imdb_project / "params.yaml").read_text())
    params["overfit"].update(units=[8], epochs=10, batch_size=16, learning_rate=0.01)
    params["regularize"].update(epochs=10, batch_size=16, learning_rate=0.01, candidates=[
        {"name": "small", "units": [4]}, {"name": "dropout", "units": [8], "dropout": 0.5, "early_stopping_patience": 2}])
    params["evaluate"]["min_skill_over_baseline"] = 0.2
    params["optimize"]["fine_tune_epochs"] = 1
    params["studies"]["imdb"].update(epochs=3, batch_size=16, units=[8], capacity_small=[2], capacity_large=[32, 32])
    write_params(imdb_project, params)
    for stage in (collect, define_task, split, validate, vectorize, baseline, overfit, regularize, evaluate, export,
                  optimize, studies, model_card):
        stage.main()
    task = json.loads((imdb_project / paths.TASK).read_text())
    assert (task["problem_type"], task["last_layer_activation"], task["loss"]) == (
        "binary_classification", "sigmoid", "binary_crossentropy")
    result = json.loads((imdb_project / paths.EVALUATE_METRICS).read_text())
    assert result["test_accuracy"] >= 0.7 and 0 <= result["test_roc_auc"] <= 1
    assert (imdb_project / paths.PREDICTIONS_PNG).stat().st_size > 0
    # The book's IMDB studies, binary and on sparse multi-hot features: noise channels need dense ones.
    verdicts = {name: json.loads((imdb_project / paths.study_metrics(name)).read_text()) for name in (
        "noise_channels", "capacity", "weight_regularization", "dropout", "early_stopping", "random_labels",
        "learning_rate", "linear_capacity")}
    assert verdicts.pop("noise_channels")["held"] is None
    assert all(isinstance(verdict["held"], bool) for verdict in verdicts.values())
    summary = (imdb_project / paths.STUDIES_SUMMARY).read_text()
    assert "# Chapter 5 studies on `imdb`" in summary and summary.count("| **not applicable** |") == 1
    assert "word indices: 1 " in assert_the_card_shows_the_headline(imdb_project)  # reviews as Keras encodes them
