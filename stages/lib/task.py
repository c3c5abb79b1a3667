"""Defining the task: the book's table from problem type to last layer, loss and metrics."""
from typing import Optional

# Chollet, ch. 6: choosing the right last-layer activation and loss for your model.
_TABLE = {
    "binary": ("sigmoid", "binary_crossentropy"),
    "multiclass": ("softmax", "sparse_categorical_crossentropy"),
    "regression": (None, "mse"),
}


def define_task(dataset: str, problem: str, class_counts: Optional[dict], imbalance_ratio: float) -> dict:
    """The task definition: problem type, classes, last layer, loss, metrics and baseline kind.

    `class_counts` maps class label -> number of examples (None for regression). A
    classification task whose majority/minority ratio exceeds `imbalance_ratio` is scored
    with PR-AUC, precision and recall instead of accuracy and ROC AUC, against the
    positive-rate (prior) predictor. A binary task's positive class is its minority class.
    """
    if problem == "regression":
        activation, loss = _TABLE["regression"]
        return {
            "dataset": dataset, "problem_type": "regression", "classes": [], "n_classes": 0,
            "last_layer_activation": activation, "loss": loss, "output_units": 1, "training_metric": "mae",
            "primary_metric": "mae", "greater_is_better": False, "secondary_metrics": ["rmse", "r2"],
            "baseline": "mean",
        }
    if not class_counts or len(class_counts) < 2:
        raise ValueError(f"a classification task needs at least two classes, got {sorted(class_counts or {})}")
    counts = {int(c): n for c, n in class_counts.items()}
    classes = sorted(counts)
    kind = "binary" if len(classes) == 2 else "multiclass"
    activation, loss = _TABLE[kind]
    ratio = max(counts.values()) / min(counts.values())
    balanced = ratio <= imbalance_ratio
    task = {
        "dataset": dataset,
        "problem_type": f"{kind}_classification",
        "classes": classes,
        "n_classes": len(classes),
        "last_layer_activation": activation,
        "loss": loss,
        "output_units": 1 if kind == "binary" else len(classes),
        "training_metric": "accuracy",
        "balanced": balanced,
        "class_ratio": ratio,
        "primary_metric": "accuracy" if balanced else "pr_auc",
        "greater_is_better": True,
        "secondary_metrics": ["roc_auc", "f1"] if balanced else ["precision", "recall"],
        "baseline": "most_frequent" if balanced else "prior",
    }
    if kind == "binary":
        # The minority class (ties: the larger label) is the one precision and recall are about.
        task["positive_class"] = min(reversed(classes), key=lambda c: counts[c])
    return task
