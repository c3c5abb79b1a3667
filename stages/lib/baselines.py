"""Trivial baselines: what a model must beat to be worth anything, scored like the models."""
import numpy as np

from stages.lib.task import Task


def fit_baseline(task: Task, strategy: str, x, y, seed: int):
    """A scikit-learn dummy model of `strategy`, fitted on (x, y)."""
    from sklearn.dummy import DummyClassifier, DummyRegressor

    if task.is_regression:
        return DummyRegressor(strategy=strategy).fit(x, y)
    return DummyClassifier(strategy=strategy, random_state=seed).fit(x, y)


def baseline_output(task: Task, model, x) -> np.ndarray:
    """What a model would output: predicted values, or class probabilities."""
    return model.predict(x) if task.is_regression else model.predict_proba(x)


def strategies_for(task: Task, classification: list, regression: list) -> list:
    """The task's own baseline first, then the others params asks for."""
    listed = regression if task.is_regression else classification
    return [task.baseline] + [s for s in listed if s != task.baseline]


def best_baseline(scores: dict, metric: str, greater_is_better: bool) -> str:
    """The strongest baseline strategy, chosen on mean validation `metric` (ties: listed first)."""
    sign = 1 if greater_is_better else -1
    return max(scores, key=lambda s: sign * scores[s]["validation_mean"][metric])


def chance_level(task: Task, y: np.ndarray) -> float:
    """The training score of guessing: majority-class accuracy, or the mean predictor's MAE."""
    if task.is_regression:
        return float(np.mean(np.abs(y - y.mean())))
    return float(np.bincount(y).max() / len(y))
