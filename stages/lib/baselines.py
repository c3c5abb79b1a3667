"""Trivial baselines: what a model must beat to be worth anything, scored like the models."""
import numpy as np

from stages.lib.task import Task


# The common-sense baseline of a time series: tomorrow is like today. Added for time-ordered splits.
LAST_VALUE = "last_value"


class LastValue:
    """The last known target, predicted for every later example: the target at the latest training time (several
    rows at that time: their mean, or their most frequent class)."""

    def __init__(self, task: Task, times: np.ndarray):
        self.task, self.times = task, np.asarray(times)

    def fit(self, x, y):
        latest = np.asarray(y)[self.times == self.times.max()]
        if self.task.is_regression:
            self.value = float(np.mean(latest))
        else:
            labels, counts = np.unique(latest, return_counts=True)
            self.value = labels[np.argmax(counts)]
        return self

    def predict(self, x):
        return np.full(x.shape[0], self.value)

    def predict_proba(self, x):
        probabilities = np.zeros((x.shape[0], len(self.task.classes)))
        probabilities[:, self.task.classes.index(self.value)] = 1.0
        return probabilities


def fit_baseline(task: Task, strategy: str, x, y, seed: int, times=None):
    """A scikit-learn dummy model of `strategy`, or the last value (`times`: each training example's), fitted on
    (x, y)."""
    from sklearn.dummy import DummyClassifier, DummyRegressor

    if strategy == LAST_VALUE:
        return LastValue(task, times).fit(x, y)
    if task.is_regression:
        return DummyRegressor(strategy=strategy).fit(x, y)
    return DummyClassifier(strategy=strategy, random_state=seed).fit(x, y)


def baseline_output(task: Task, model, x) -> np.ndarray:
    """What a model would output: predicted values, or class probabilities."""
    return model.predict(x) if task.is_regression else model.predict_proba(x)


def strategies_for(task: Task, classification: list, regression: list, time_ordered: bool = False) -> list:
    """The task's own baseline first, then the others params asks for, then for a time-ordered split the last value."""
    listed = regression if task.is_regression else classification
    return [task.baseline] + [s for s in listed if s != task.baseline] + ([LAST_VALUE] if time_ordered else [])


def best_baseline(scores: dict, metric: str, greater_is_better: bool) -> str:
    """The strongest baseline strategy, chosen on mean validation `metric` (ties: listed first)."""
    sign = 1 if greater_is_better else -1
    return max(scores, key=lambda s: sign * scores[s]["validation_mean"][metric])


def chance_level(task: Task, y: np.ndarray) -> float:
    """The training score of guessing: majority-class accuracy, or the mean predictor's MAE."""
    if task.is_regression:
        return float(np.mean(np.abs(y - y.mean())))
    return float(np.bincount(y).max() / len(y))
