import numpy as np
import pytest

from stages.lib.errors import PipelineError
from stages.lib.evaluation import check_margin, classification_scores, primary_score_key


def test_multiclass_scores():
    y = np.array([0, 1, 2, 2])
    probabilities = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.2, 0.7], [0.6, 0.2, 0.2]])
    scores = classification_scores(y, probabilities, [0, 1, 2])
    assert scores["accuracy"] == 0.75
    assert scores["recall_macro"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert 0 < scores["log_loss"] < 1 and 0.5 < scores["roc_auc_ovr"] <= 1


def test_binary_scores_from_a_sigmoid_column():
    scores = classification_scores(np.array([0, 1, 1, 0]), np.array([[0.1], [0.9], [0.4], [0.3]]), [0, 1])
    assert scores["accuracy"] == 0.75 and scores["roc_auc_ovr"] == 1.0


def test_margin_over_baseline():
    assert check_margin(0.98, 0.1, "most_frequent", 0.5) == pytest.approx(0.88)
    with pytest.raises(PipelineError, match="beats the most_frequent baseline's 0.1000 by 0.0500, under"):
        check_margin(0.15, 0.1, "most_frequent", 0.5)


def test_primary_metric_maps_to_a_score():
    assert primary_score_key({"primary_metric": "precision"}) == "precision_macro"
