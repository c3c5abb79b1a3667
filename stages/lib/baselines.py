"""Trivial baselines: what a model must beat to be worth anything."""
import numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.metrics import accuracy_score


def score_baselines(strategies, train, validation, test, seed: int) -> dict:
    """Accuracy of each DummyClassifier strategy on validation and test; (x, y) pairs in."""
    scores = {}
    for strategy in strategies:
        model = DummyClassifier(strategy=strategy, random_state=seed).fit(*train)
        scores[strategy] = {
            "validation_accuracy": accuracy_score(validation[1], model.predict(validation[0])),
            "test_accuracy": accuracy_score(test[1], model.predict(test[0])),
        }
    return scores


def best_baseline(scores: dict) -> tuple:
    """(strategy, test accuracy) of the strongest baseline, chosen on validation (ties: listed first)."""
    name = max(scores, key=lambda s: scores[s]["validation_accuracy"])
    return name, scores[name]["test_accuracy"]


def chance_accuracy(y: np.ndarray) -> float:
    """Accuracy of always predicting the most frequent class."""
    return float(np.bincount(y).max() / len(y))
