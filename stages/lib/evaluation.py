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
    probabilities = _one_column_if_binary(probabilities, classes)
    predicted = predict_classes(probabilities)
    pr_auc = _pr_auc(y_true, probabilities, classes, positive_class)
    if len(classes) == 2:
        p_one = probabilities[:, 0]
        positive = 1 if positive_class is None else positive_class
        precision, recall, f1, _ = precision_recall_fscore_support(
            y_true, predicted, labels=[positive], average="binary", pos_label=positive, zero_division=0)
        auc = roc_auc_score(y_true, p_one)
        loss = log_loss(y_true, p_one, labels=classes)
    else:
        precision, recall, f1, _ = precision_recall_fscore_support(
            y_true, predicted, labels=classes, average="macro", zero_division=0)
        auc = roc_auc_score(y_true, probabilities, multi_class="ovr", labels=classes)
        loss = log_loss(y_true, probabilities, labels=classes)
    return {"accuracy": accuracy_score(y_true, predicted), "precision": precision, "recall": recall, "f1": f1,
            "roc_auc": auc, "pr_auc": pr_auc, "log_loss": loss}


def _one_column_if_binary(probabilities: np.ndarray, classes) -> np.ndarray:
    """A binary task's probabilities as one column, class 1's (a sigmoid's), even when given two."""
    return probabilities[:, 1:] if len(classes) == 2 and probabilities.shape[1] == 2 else probabilities


def _pr_auc(y_true: np.ndarray, probabilities: np.ndarray, classes, positive_class) -> float:
    if len(classes) == 2:
        p_one = probabilities[:, 0]
        positive_scores = p_one if positive_class in (None, 1) else 1 - p_one
        return average_precision_score(y_true == (1 if positive_class is None else positive_class), positive_scores)
    return average_precision_score(label_binarize(y_true, classes=classes), probabilities, average="macro")


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


def metric_score(task: dict, metric: str, y_true: np.ndarray, output: np.ndarray) -> float:
    """One of task_scores' numbers alone, computed as task_scores computes it; the paired
    bootstrap recomputes it thousands of times."""
    output = np.asarray(output)
    if task["problem_type"] == "regression":
        if metric == "mae":
            return float(np.mean(np.abs(y_true - output.reshape(-1))))
    elif metric == "accuracy":
        return float(np.mean(correct(task, y_true, output)))
    elif metric == "pr_auc":
        probabilities = _one_column_if_binary(output.reshape(len(y_true), -1), task["classes"])
        return float(_pr_auc(y_true, probabilities, task["classes"], task.get("positive_class")))
    return float(task_scores(task, y_true, output)[metric])


def correct(task: dict, y_true: np.ndarray, output: np.ndarray) -> np.ndarray:
    """Per example: did the model's output (probabilities) pick the true class?"""
    probabilities = _one_column_if_binary(np.asarray(output).reshape(len(y_true), -1), task["classes"])
    return predict_classes(probabilities) == y_true


def one_example(task: dict, metric: str, y_true: np.ndarray, reference: np.ndarray, candidate: np.ndarray) -> float:
    """About the most that one test example can move the difference between two models' scores;
    a smaller difference is one prediction, not a finding.

    Accuracy: 1/n. MAE: the largest gap between one example's two errors, over n. PR-AUC:
    one positive ranked anew moves its class's average precision by up to about 1/positives
    (macro PR-AUC averages that over the classes). Other metrics: 0, the paired test alone.
    """
    n = len(y_true)
    if metric == "accuracy":
        return 1.0 / n
    if metric == "mae":
        errors = [np.abs(y_true - np.asarray(output).reshape(-1)) for output in (reference, candidate)]
        return float(np.max(np.abs(errors[0] - errors[1]))) / n
    if metric == "pr_auc":
        classes = task["classes"]
        if len(classes) == 2:
            positive = 1 if task.get("positive_class") is None else task["positive_class"]
            return 1.0 / max(1, int(np.sum(y_true == positive)))
        return 1.0 / (len(classes) * max(1, min(int(np.sum(y_true == c)) for c in classes)))
    return 0.0


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


def check_beats_baseline(task: dict, scores: tuple, baseline_name: str, comparison: dict, significance: float) -> None:
    """Stop the pipeline unless the model is significantly better than the baseline on the test examples.

    `comparison` is stages.lib.paired.compare_models with the model as reference and the baseline as candidate:
    its difference is the model's gain, its p-value that of the baseline being worse.
    """
    if comparison["p_value"] > significance:
        metric, (model, baseline) = task["primary_metric"], scores
        test = "McNemar's exact test" if metric == "accuracy" else "paired bootstrap"
        raise PipelineError(
            f"the regularized model's test {metric} {model:.4f} is not significantly better than the {baseline_name} "
            f"baseline's {baseline:.4f}: difference {comparison['difference']:+.4f} (95% interval "
            f"{comparison['ci_low']:+.4f} to {comparison['ci_high']:+.4f}), one-sided p={comparison['p_value']:.3g} "
            f"({test}) above evaluate.significance={significance}: improve the model or test on more examples")
