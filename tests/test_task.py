import dataclasses
import json
from pathlib import Path

import pytest

from stages.lib.errors import PipelineError
from stages.lib.io import write_json
from stages.lib.task import Task, define_task, read_task

ROOT = Path(__file__).resolve().parent.parent


def test_balanced_multiclass_follows_the_books_table():
    task = define_task("digits", "classification", {str(c): 180 for c in range(10)}, 3.0)
    assert task.problem_type == "multiclass_classification" and not task.is_binary and not task.is_regression
    assert (task.last_layer_activation, task.loss, task.output_units) == (
        "softmax", "sparse_categorical_crossentropy", 10)
    assert task.primary_metric == "accuracy" and task.greater_is_better
    assert task.baseline == "most_frequent" and task.balanced and "positive_class" not in task.to_dict()


def test_imbalanced_binary_is_scored_on_the_minority_class_with_pr_auc():
    task = define_task("x", "classification", {"0": 100, "1": 900}, 3.0)
    assert task.is_binary
    assert (task.last_layer_activation, task.loss, task.output_units) == ("sigmoid", "binary_crossentropy", 1)
    assert not task.balanced and task.primary_metric == "pr_auc"
    assert task.secondary_metrics == ("precision", "recall") and task.baseline == "prior"
    assert task.positive_class == 0 and task.positive == 0


def test_imbalance_threshold_comes_from_params():
    counts = {"0": 700, "1": 300}
    assert define_task("x", "classification", counts, 3.0).balanced
    assert define_task("x", "classification", counts, 2.0).primary_metric == "pr_auc"


def test_regression_has_no_last_activation_and_a_mean_baseline():
    task = define_task("x", "regression", None, 3.0)
    assert task.is_regression and task.last_layer_activation is None and task.loss == "mse"
    assert (task.primary_metric, task.training_metric, task.baseline) == ("mae", "mae", "mean")
    assert not task.greater_is_better
    assert not {"balanced", "class_ratio", "positive_class"} & set(task.to_dict())


def test_single_class_refused():
    with pytest.raises(ValueError, match="at least two classes"):
        define_task("x", "classification", {"3": 10}, 3.0)


def test_the_committed_task_json_reads_and_writes_back_byte_for_byte(tmp_path):
    committed = ROOT / "reports/task.json"
    write_json(tmp_path / "task.json", read_task(committed).to_dict())
    assert (tmp_path / "task.json").read_bytes() == committed.read_bytes()


@pytest.mark.parametrize("task", [
    define_task("x", "regression", None, 3.0),
    define_task("x", "classification", {"0": 100, "1": 900}, 3.0),
    define_task("x", "classification", {"0": 5, "1": 6, "2": 7}, 3.0),
], ids=["regression", "binary", "multiclass"])
def test_every_kind_of_task_comes_back_from_its_file_as_it_was_written(tmp_path, task):
    write_json(tmp_path / "task.json", task.to_dict())
    # class_ratio is rounded to 6 decimals in the file, as every float the stages write
    assert read_task(tmp_path / "task.json") == dataclasses.replace(
        task, class_ratio=None if task.class_ratio is None else round(task.class_ratio, 6))


def test_a_task_json_with_a_missing_or_unknown_key_is_refused_naming_them(tmp_path):
    data = define_task("x", "regression", None, 3.0).to_dict()
    del data["loss"]
    (tmp_path / "task.json").write_text(json.dumps({**data, "surprise": 1}))
    with pytest.raises(PipelineError, match=r"task.json lacks loss and has unknown key\(s\) surprise: rebuild it"):
        read_task(tmp_path / "task.json")


def test_a_task_cannot_be_changed_after_it_is_defined():
    task = define_task("x", "regression", None, 3.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        task.loss = "mae"
    assert isinstance(task, Task) and hash(task) == hash(dataclasses.replace(task))
