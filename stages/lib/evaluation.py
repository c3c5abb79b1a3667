"""Scoring models and baselines the same way, summarizing folds, and the bar over the baseline."""
import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    precision_recall_fscore_support,
    r2_score,
    roc_auc_score,
)
from sklearn.preprocessing import label_binarize

from stages.lib.errors import PipelineError


def predict_classes(probabilities: np.ndarray) -> np.ndarray:
    """Class labels from the last layer's output: sigmoid (n, 1) or softmax (n, k)."""
    if probabilities.shape[1] == 1:
        return (probabilities[:, 0] > 0.5).astype(np.int64)
    return probabilities.argmax(axis=1)


def classification_scores(y_true: np.ndarray, probabilities: np.ndarray, classes, positive_class=None) -> dict:
    """Accuracy, precision/recall/F1, ROC AUC, PR-AUC (average precision) and log loss.

    Binary tasks (a sigmoid column, or two probability columns) report precision, recall,
    F1 and PR-AUC for `positive_class`; multiclass tasks report macro averages and
    one-vs-rest AUCs. The log loss is the plain cross-entropy, without the weight penalties
    Keras adds to its loss, so that regularized and unregularized models compare fairly.
    """
    if len(classes) == 2 and probabilities.shape[1] == 2:
        probabilities = probabilities[:, 1:]
    predicted = predict_classes(probabilities)
    if len(classes) == 2:
        p_one = probabilities[:, 0]
        positive_scores = p_one if positive_class in (None, 1) else 1 - p_one
        positive = 1 if positive_class is None else positive_class
        precision, recall, f1, _ = precision_recall_fscore_support(
            y_true, predicted, labels=[positive], average="binary", pos_label=positive, zero_division=0)
        auc = roc_auc_score(y_true, p_one)
        pr_auc = average_precision_score(y_true == positive, positive_scores)
        loss = log_loss(y_true, p_one, labels=classes)
    else:
        precision, recall, f1, _ = precision_recall_fscore_support(
            y_true, predicted, labels=classes, average="macro", zero_division=0)
        auc = roc_auc_score(y_true, probabilities, multi_class="ovr", labels=classes)
        pr_auc = average_precision_score(label_binarize(y_true, classes=classes), probabilities, average="macro")
        loss = log_loss(y_true, probabilities, labels=classes)
    return {"accuracy": accuracy_score(y_true, predicted), "precision": precision, "recall": recall, "f1": f1,
            "roc_auc": auc, "pr_auc": pr_auc, "log_loss": loss}


def regression_scores(y_true: np.ndarray, predicted: np.ndarray) -> dict:
    predicted = np.asarray(predicted).reshape(-1)
    mse = mean_squared_error(y_true, predicted)
    return {"mae": mean_absolute_error(y_true, predicted), "mse": mse, "rmse": float(np.sqrt(mse)),
            "r2": r2_score(y_true, predicted)}


def task_scores(task: dict, y_true: np.ndarray, output: np.ndarray) -> dict:
    """The task's scores from a model's (or baseline's) output: probabilities, or predicted values."""
    if task["problem_type"] == "regression":
        return regression_scores(y_true, output)
    return classification_scores(y_true, np.asarray(output).reshape(len(y_true), -1), task["classes"],
                                 task.get("positive_class"))


def tie_breaker(task: dict) -> str:
    """The score that decides between equally good candidates (lower is better)."""
    return "mse" if task["problem_type"] == "regression" else "log_loss"


def fold_summary(rows: list) -> dict:
    """Mean and (population) standard deviation across folds of every number in `rows`."""
    keys = [k for k, v in rows[0].items() if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)]
    values = {k: np.array([row[k] for row in rows], dtype=np.float64) for k in keys}
    return {"mean": {k: v.mean() for k, v in values.items()}, "std": {k: v.std() for k, v in values.items()}}


def skill_over(score: float, baseline: float, greater_is_better: bool) -> float:
    """The fraction of the baseline's gap to a perfect score (1, or 0 for errors) that `score` closes."""
    gap = (1.0 - baseline) if greater_is_better else baseline
    gained = (score - baseline) if greater_is_better else (baseline - score)
    return gained / gap if gap > 0 else 0.0


def check_skill(task: dict, score: float, baseline: float, baseline_name: str, min_skill: float) -> float:
    """The model's skill over the best baseline; under `min_skill` it stops the pipeline."""
    skill = skill_over(score, baseline, task["greater_is_better"])
    if skill < min_skill:
        metric = task["primary_metric"]
        raise PipelineError(
            f"the regularized model's test {metric} {score:.4f} against the {baseline_name} baseline's {baseline:.4f} "
            f"closes {skill:.1%} of the gap to a perfect score, under evaluate.min_skill_over_baseline={min_skill}: "
            "improve the model (see reports/metrics/regularize.json)")
    return skill
