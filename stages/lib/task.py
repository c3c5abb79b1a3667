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
    with precision and recall instead of accuracy and ROC AUC.
    """
    if problem == "regression":
        activation, loss = _TABLE["regression"]
        return {
            "dataset": dataset, "problem_type": "regression", "classes": [], "n_classes": 0,
            "last_layer_activation": activation, "loss": loss, "output_units": 1,
            "primary_metric": "mae", "secondary_metrics": ["mse"], "baseline": "mean",
        }
    if not class_counts or len(class_counts) < 2:
        raise ValueError(f"a classification task needs at least two classes, got {sorted(class_counts or {})}")
    classes = sorted(int(c) for c in class_counts)
    kind = "binary" if len(classes) == 2 else "multiclass"
    activation, loss = _TABLE[kind]
    counts = list(class_counts.values())
    ratio = max(counts) / min(counts)
    balanced = ratio <= imbalance_ratio
    return {
        "dataset": dataset,
        "problem_type": f"{kind}_classification",
        "classes": classes,
        "n_classes": len(classes),
        "last_layer_activation": activation,
        "loss": loss,
        "output_units": 1 if kind == "binary" else len(classes),
        "balanced": balanced,
        "class_ratio": ratio,
        "primary_metric": "accuracy" if balanced else "precision",
        "secondary_metrics": ["roc_auc"] if balanced else ["recall", "pr_auc"],
        "baseline": "most_frequent" if balanced else "prior",
    }
