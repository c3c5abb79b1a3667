"""Scoring models and baselines the same way, summarizing folds, and the bar over the baseline."""
import numpy as np
import pandas as pd
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
from stages.lib.task import Task


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
    probabilities = one_column_if_binary(probabilities, classes)
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


def one_column_if_binary(probabilities: np.ndarray, classes) -> np.ndarray:
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


def task_scores(task: Task, y_true: np.ndarray, output: np.ndarray) -> dict:
    """The task's scores from a model's (or baseline's) output: probabilities, or predicted values."""
    if task.is_regression:
        return regression_scores(y_true, output)
    return classification_scores(y_true, np.asarray(output).reshape(len(y_true), -1), task.classes,
                                 task.positive_class)


# Scores where lower is better; every other task_scores metric is better higher.
LOWER_IS_BETTER = {"log_loss", "mae", "mse", "rmse"}


def greater_is_better(metric: str) -> bool:
    """Whether a higher `metric` (a task_scores name, with or without a test_ prefix) is better."""
    return metric.removeprefix("test_") not in LOWER_IS_BETTER


# The values each task_scores metric can take, (lowest, highest); None: no bound on that side.
METRIC_RANGES = {"accuracy": (0.0, 1.0), "precision": (0.0, 1.0), "recall": (0.0, 1.0), "f1": (0.0, 1.0),
                 "roc_auc": (0.0, 1.0), "pr_auc": (0.0, 1.0), "log_loss": (0.0, None), "mae": (0.0, None),
                 "mse": (0.0, None), "rmse": (0.0, None), "r2": (None, 1.0)}


def metric_range(metric: str) -> tuple:
    """(lowest, highest) a metric (a task_scores name, with or without a test_ prefix) can take;
    (None, None) for any other number (epochs_trained)."""
    return METRIC_RANGES.get(metric.removeprefix("test_"), (None, None))


def in_range(metric: str, low: float, high: float) -> tuple:
    """An interval of `metric` clipped into the values it can take."""
    lowest, highest = metric_range(metric)
    bounds = (-np.inf if lowest is None else lowest, np.inf if highest is None else highest)
    return tuple(float(np.clip(end, *bounds)) for end in (low, high))


def tolerance_is_relative(metric: str) -> bool:
    """Whether a tolerance on `metric` is a share of the score rather than an amount of it: for metrics
    without an upper bound (MAE, MSE, RMSE in the target's units, log loss), whose scale is the data's.
    Bounded metrics (accuracy, AUC, ... and R² at most 1) take tolerances in points."""
    return metric_range(metric)[1] is None


def correct(task: Task, y_true: np.ndarray, output: np.ndarray) -> np.ndarray:
    """Per example: did the model's output (probabilities) pick the true class?"""
    probabilities = one_column_if_binary(np.asarray(output).reshape(len(y_true), -1), task.classes)
    return predict_classes(probabilities) == y_true


def one_example(task: Task, metric: str, y_true: np.ndarray, reference: np.ndarray, candidate: np.ndarray) -> float:
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
        if task.is_binary:
            return 1.0 / max(1, int(np.sum(y_true == task.positive)))
        return 1.0 / (len(task.classes) * max(1, min(int(np.sum(y_true == c)) for c in task.classes)))
    return 0.0


def tie_breaker(task: Task) -> str:
    """The score that decides between equally good candidates (lower is better)."""
    return "mse" if task.is_regression else "log_loss"


def numeric_keys(row: dict) -> list:
    """The keys of a row of scores whose values are numbers (not flags, not text)."""
    return [k for k, v in row.items() if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)]


def fold_summary(rows: list) -> dict:
    """Mean and (population) standard deviation across folds of every number in `rows`."""
    values = {k: np.array([row[k] for row in rows], dtype=np.float64) for k in numeric_keys(rows[0])}
    return {"mean": {k: v.mean() for k, v in values.items()}, "std": {k: v.std() for k, v in values.items()}}


def skill_over(score: float, baseline: float, greater_is_better: bool) -> float:
    """The fraction of the baseline's gap to a perfect score (1, or 0 for errors) that `score` closes."""
    gap = (1.0 - baseline) if greater_is_better else baseline
    gained = (score - baseline) if greater_is_better else (baseline - score)
    return gained / gap if gap > 0 else 0.0


def check_skill(task: Task, score: float, baseline: float, baseline_name: str, min_skill: float) -> float:
    """The model's skill over the best baseline; under `min_skill` it stops the pipeline."""
    skill = skill_over(score, baseline, task.greater_is_better)
    if skill < min_skill:
        metric = task.primary_metric
        raise PipelineError(
            f"the regularized model's test {metric} {score:.4f} against the {baseline_name} baseline's {baseline:.4f} "
            f"closes {skill:.1%} of the gap to a perfect score, under evaluate.min_skill_over_baseline={min_skill}: "
            "improve the model (see reports/metrics/regularize.json)")
    return skill


def check_beats_baseline(task: Task, scores: tuple, baseline_name: str, comparison: dict, significance: float) -> None:
    """Stop the pipeline unless the model is significantly better than the baseline on the test examples.

    `comparison` is stages.lib.paired.compare_models with the model as reference and the baseline as candidate:
    its difference is the model's gain, its p-value that of the baseline being worse.
    """
    if comparison["p_value"] > significance:
        metric, (model, baseline) = task.primary_metric, scores
        test = "McNemar's exact test" if metric == "accuracy" else "paired bootstrap"
        raise PipelineError(
            f"the regularized model's test {metric} {model:.4f} is not significantly better than the {baseline_name} "
            f"baseline's {baseline:.4f}: difference {comparison['difference']:+.4f} (95% interval "
            f"{comparison['ci_low']:+.4f} to {comparison['ci_high']:+.4f}), one-sided p={comparison['p_value']:.3g} "
            f"({test}) above evaluate.significance={significance}: improve the model or test on more examples")


def predictions_frame(task: Task, examples, y_true, output) -> pd.DataFrame:
    """One row per test example: its row in data/raw (`example`), the actual and predicted class or value,
    the predicted class's probability (`score`), and the model's raw output columns (`output`, or
    `output_0`... for one probability per class) that every metric can be recomputed from."""
    output = np.asarray(output, dtype=np.float64).reshape(len(y_true), -1)
    frame = pd.DataFrame({"example": np.asarray(examples), "actual": np.asarray(y_true)})
    if task.is_regression:
        frame["predicted"] = output[:, 0]
    else:
        probabilities = one_column_if_binary(output, task.classes)
        frame["predicted"] = predict_classes(probabilities)
        one = probabilities[:, 0]
        frame["score"] = (np.where(frame["predicted"] == 1, one, 1 - one) if probabilities.shape[1] == 1
                          else probabilities.max(axis=1))
        output = probabilities
    columns = ["output"] if output.shape[1] == 1 else [f"output_{i}" for i in range(output.shape[1])]
    return pd.concat([frame, pd.DataFrame(output, columns=columns)], axis=1)


def from_predictions(frame: pd.DataFrame) -> tuple:
    """(examples, actual values, model output) back from a predictions_frame."""
    columns = [c for c in frame.columns if c == "output" or c.startswith("output_")]
    # float32, as the model wrote them: log loss clips at float32's epsilon, as it did when evaluate scored them
    return frame["example"].to_numpy(), frame["actual"].to_numpy(), frame[columns].to_numpy(dtype=np.float32)
