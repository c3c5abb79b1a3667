import pytest

from stages.lib.task import define_task


def test_balanced_multiclass_follows_the_books_table():
    task = define_task("digits", "classification", {str(c): 180 for c in range(10)}, 3.0)
    assert task["problem_type"] == "multiclass_classification"
    assert (task["last_layer_activation"], task["loss"], task["output_units"]) == (
        "softmax", "sparse_categorical_crossentropy", 10)
    assert task["primary_metric"] == "accuracy" and task["secondary_metrics"] == ["roc_auc"]
    assert task["baseline"] == "most_frequent" and task["balanced"]


def test_binary_and_imbalanced():
    task = define_task("x", "classification", {"0": 900, "1": 100}, 3.0)
    assert (task["last_layer_activation"], task["loss"], task["output_units"]) == ("sigmoid", "binary_crossentropy", 1)
    assert not task["balanced"] and task["primary_metric"] == "precision"
    assert task["secondary_metrics"] == ["recall", "pr_auc"] and task["baseline"] == "prior"


def test_regression_has_no_last_activation():
    task = define_task("x", "regression", None, 3.0)
    assert task["last_layer_activation"] is None and task["loss"] == "mse" and task["primary_metric"] == "mae"


def test_single_class_refused():
    with pytest.raises(ValueError, match="at least two classes"):
        define_task("x", "classification", {"3": 10}, 3.0)
