"""Scoring a model once on the test split."""
import numpy as np
from sklearn.metrics import (
    accuracy_score,
    precision_recall_fscore_support,
    roc_auc_score,
)

from stages.lib.models import predict_classes


def classification_scores(y_true: np.ndarray, probabilities: np.ndarray, classes) -> dict:
    """Accuracy, macro precision/recall/F1 and ROC AUC (one-vs-rest when multiclass)."""
    predicted = predict_classes(probabilities)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, predicted, labels=classes, average="macro", zero_division=0)
    if probabilities.shape[1] == 1:
        auc = roc_auc_score(y_true, probabilities[:, 0])
    else:
        auc = roc_auc_score(y_true, probabilities, multi_class="ovr", labels=classes)
    return {
        "accuracy": accuracy_score(y_true, predicted),
        "precision_macro": precision,
        "recall_macro": recall,
        "f1_macro": f1,
        "roc_auc_ovr": auc,
    }


def primary_score_key(task: dict) -> str:
    """The key of classification_scores that measures the task's primary metric."""
    return {"accuracy": "accuracy", "precision": "precision_macro", "recall": "recall_macro"}[task["primary_metric"]]
