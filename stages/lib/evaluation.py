"""Scoring a model once on the test split."""
import numpy as np
from sklearn.metrics import (
    accuracy_score,
    log_loss,
    precision_recall_fscore_support,
    roc_auc_score,
)

from stages.lib.errors import PipelineError
from stages.lib.models import predict_classes


def classification_scores(y_true: np.ndarray, probabilities: np.ndarray, classes) -> dict:
    """Accuracy, macro precision/recall/F1, ROC AUC (one-vs-rest when multiclass) and log loss.

    The log loss is the plain cross-entropy, without the weight penalties Keras adds to its
    loss, so that regularized and unregularized models compare fairly.
    """
    predicted = predict_classes(probabilities)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, predicted, labels=classes, average="macro", zero_division=0)
    scores = probabilities[:, 0] if probabilities.shape[1] == 1 else probabilities
    auc = roc_auc_score(y_true, scores, multi_class="ovr", labels=classes)
    return {
        "accuracy": accuracy_score(y_true, predicted),
        "precision_macro": precision,
        "recall_macro": recall,
        "f1_macro": f1,
        "roc_auc_ovr": auc,
        "log_loss": log_loss(y_true, scores, labels=classes),
    }


def primary_score_key(task: dict) -> str:
    """The key of classification_scores that measures the task's primary metric."""
    return {"accuracy": "accuracy", "precision": "precision_macro", "recall": "recall_macro"}[task["primary_metric"]]


def check_margin(accuracy: float, baseline_accuracy: float, baseline_name: str, min_margin: float) -> float:
    """The model's lead over the baseline; a lead under `min_margin` stops the pipeline."""
    margin = accuracy - baseline_accuracy
    if margin < min_margin:
        raise PipelineError(
            f"the regularized model's test accuracy {accuracy:.4f} beats the {baseline_name} baseline's "
            f"{baseline_accuracy:.4f} by {margin:.4f}, under evaluate.min_margin_over_baseline={min_margin}: "
            "improve the model (see reports/metrics/regularize.json)")
    return margin
