import pytest

from stages.lib.task import define_task


def test_balanced_multiclass_follows_the_books_table():
    task = define_task("digits", "classification", {str(c): 180 for c in range(10)}, 3.0)
    assert task["problem_type"] == "multiclass_classification"
    assert (task["last_layer_activation"], task["loss"], task["output_units"]) == (
        "softmax", "sparse_categorical_crossentropy", 10)
    assert task["primary_metric"] == "accuracy" and task["greater_is_better"]
    assert task["baseline"] == "most_frequent" and task["balanced"] and "positive_class" not in task


def test_imbalanced_binary_is_scored_on_the_minority_class_with_pr_auc():
    task = define_task("x", "classification", {"0": 100, "1": 900}, 3.0)
    assert (task["last_layer_activation"], task["loss"], task["output_units"]) == ("sigmoid", "binary_crossentropy", 1)
    assert not task["balanced"] and task["primary_metric"] == "pr_auc"
    assert task["secondary_metrics"] == ["precision", "recall"] and task["baseline"] == "prior"
    assert task["positive_class"] == 0


def test_imbalance_threshold_comes_from_params():
    counts = {"0": 700, "1": 300}
    assert define_task("x", "classification", counts, 3.0)["balanced"]
    assert define_task("x", "classification", counts, 2.0)["primary_metric"] == "pr_auc"


def test_regression_has_no_last_activation_and_a_mean_baseline():
    task = define_task("x", "regression", None, 3.0)
    assert task["last_layer_activation"] is None and task["loss"] == "mse"
    assert (task["primary_metric"], task["training_metric"], task["baseline"]) == ("mae", "mae", "mean")
    assert not task["greater_is_better"]


def test_single_class_refused():
    with pytest.raises(ValueError, match="at least two classes"):
        define_task("x", "classification", {"3": 10}, 3.0)
