"""Drift monitoring: new batches from the training distribution pass, shifted ones are named."""
import json

import numpy as np
import pandas as pd
import pytest

from stages.lib import paths
from stages.lib.kinds.images import ImageFeatures
from stages.lib.io import write_json
from stages.lib.monitoring import as_raw, linf_distance, measure_drift
from stages.lib.sequences import Sequences
from stages.lib.task import define_task
from stages.lib.splitting import write_split
from tests.conftest import THREE_CLASSES, classification_task, export_tiny_model, holdout_split, run_module, write_raw

TEN_CLASSES = classification_task(10)


def images(n, seed, shift_pixel=None):
    rng = np.random.default_rng(seed)
    x = rng.normal(8, 2, size=(n, 8, 8))
    if shift_pixel is not None:
        x.reshape(n, -1)[:, shift_pixel] += 6
    return x


def test_linf_distance_is_the_largest_difference_in_a_class_share():
    assert linf_distance(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1])) == pytest.approx(0.25)
    assert linf_distance(np.array([0, 1]), np.array([2, 2])) == pytest.approx(1.0)  # an unseen class
    assert linf_distance(np.array([0, 1, 0, 1]), np.array([1, 0])) == 0.0


def test_a_batch_from_the_training_distribution_shows_no_drift():
    y = np.arange(600) % 10
    report = measure_drift("images", images(600, 0), images(200, 1), y, np.arange(200) % 10, TEN_CLASSES,
                           max_js=0.15, max_linf=0.1)
    assert report["drifted"] == [] and report["examples"] == 200 and report["reference_examples"] == 600
    assert len(report["features"]) == 65 and max(row["value"] for row in report["features"]) < 0.15


def test_a_shifted_pixel_and_shifted_predictions_are_named():
    y = np.arange(600) % 10
    predicted = np.where(np.arange(200) < 100, 3, np.arange(200) % 10)  # half the batch predicted as 3
    report = measure_drift("images", images(600, 0), images(200, 1, shift_pixel=36), y, predicted, TEN_CLASSES,
                           max_js=0.15, max_linf=0.1)
    assert set(report["drifted"]) == {"f36", "predicted_class"}
    first = report["features"][0]
    assert first["drifted"] and first["feature"] in {"f36", "predicted_class"}


def test_sequence_lengths_and_regression_predictions_are_compared_too():
    rng = np.random.default_rng(0)
    reference = Sequences.from_lists([[1] * n for n in rng.integers(5, 10, 300)])
    longer = np.ones((100, 40), dtype=np.int32)  # padded batch: every review 40 tokens long
    task = define_task("x", "regression", None, 3.0)
    report = measure_drift("sequences", reference, as_raw("sequences", longer, None), rng.normal(0, 1, 300),
                           rng.normal(5, 1, 100), task, max_js=0.15, max_linf=0.1)
    assert set(report["drifted"]) == {"length", "prediction"}


def test_table_columns_drift_by_divergence_or_category_shares():
    rng = np.random.default_rng(0)

    def rows(n, age_shift=0.0, city_weights=(0.5, 0.3, 0.2)):
        return pd.DataFrame({"age": rng.normal(40 + age_shift, 10, n), "income": rng.normal(50, 5, n),
                             "city": rng.choice(["paris", "lyon", None], size=n, p=city_weights)})

    columns = {"numeric": ["age", "income"], "categorical": ["city"]}
    labels = np.arange(400) % 2
    same = measure_drift("table", rows(400), rows(200), labels, labels[:200], THREE_CLASSES, 0.15, 0.1, columns)
    assert same["drifted"] == [] and {r["feature"] for r in same["features"]} == {"age", "income", "city",
                                                                                  "predicted_class"}
    moved = measure_drift("table", rows(400), rows(200, age_shift=30, city_weights=(0.1, 0.3, 0.6)), labels,
                          labels[:200], THREE_CLASSES, 0.15, 0.1, columns)
    assert set(moved["drifted"]) == {"age", "city"}


@pytest.fixture(scope="module")
def monitored_project(tmp_path_factory):
    """A project after `dvc repro export`: raw digits-like images, a split, a task and an exported model."""
    import yaml

    from tests.conftest import ROOT, write_params

    project = tmp_path_factory.mktemp("monitor")
    write_params(project, yaml.safe_load((ROOT / "params.yaml").read_text()))
    x, y = images(500, 0), np.arange(500) % 10
    write_raw(project, x, y)
    split = holdout_split(y)
    write_split(split, project)
    write_json(project / paths.TASK, TEN_CLASSES.to_dict())
    (project / paths.EXPORT_DIR).mkdir(parents=True)
    development = split["development"]
    export_tiny_model(project / paths.EXPORT_DIR, ImageFeatures("standard"), x[development], y[development],
                      {"kind": "images", "example_shape": [8, 8]}, TEN_CLASSES)
    return project


def write_batch(project, name, x) -> str:
    (project / name).write_text(json.dumps({"instances": x.tolist()}))
    return name


def test_the_monitor_command_passes_a_fresh_batch_and_fails_a_shifted_one(monitored_project):
    project = monitored_project
    result = run_module("stages.monitor", project, write_batch(project, "fresh.json", images(300, 5)),
                        "--output", "out/fresh.json")
    assert result.returncode == 0, result.stderr
    report = json.loads((project / "out/fresh.json").read_text())
    features = {row["feature"] for row in report["features"]}
    assert report["drifted"] == [] and report["batch"] == "fresh.json" and "predicted_class" in features
    result = run_module("stages.monitor", project, write_batch(project, "shifted.json", images(300, 6, 12)),
                        "--output", "out/shifted.json")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "drift in" in result.stderr and "f12 (jensen_shannon" in result.stderr
    assert "f12" in json.loads((project / "out/shifted.json").read_text())["drifted"]


@pytest.mark.parametrize("content, message", [
    (None, "missing.json not found"),
    ("{broken", "malformed JSON"),
    ('{"instances": [[1, 2]]}', "instance 0 has shape [2], the model takes [8, 8]"),
])
def test_a_bad_batch_file_stops_with_one_line(monitored_project, content, message):
    name = "missing.json" if content is None else "bad.json"
    if content is not None:
        (monitored_project / name).write_text(content)
    result = run_module("stages.monitor", monitored_project, name, "--output", "out/bad.json")
    assert result.returncode == 1 and message in result.stderr and result.stderr.count("\n") == 1
    assert not (monitored_project / "out/bad.json").exists()


@pytest.mark.parametrize("command", [["stages.monitor", "batch.json"], ["stages.serve", "--port", "1"]])
def test_without_an_exported_model_serve_and_monitor_say_to_export_first(project, command):
    (project / "batch.json").write_text('{"instances": [[0]]}')
    result = run_module(command[0], project, *command[1:])
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "models/export holds no exported model: run `dvc repro export` first" in result.stderr
