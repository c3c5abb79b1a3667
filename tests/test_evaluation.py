import numpy as np
import pytest

from stages.lib.errors import PipelineError
from stages.lib.evaluation import (
    check_beats_baseline,
    check_skill,
    classification_scores,
    fold_summary,
    one_example,
    predict_classes,
    regression_scores,
    skill_over,
    task_scores,
)
from stages.lib.paired import compare_models
from stages.lib.splitting import write_split
from stages.lib.task import define_task


def test_multiclass_scores():
    y = np.array([0, 1, 2, 2])
    probabilities = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.2, 0.7], [0.6, 0.2, 0.2]])
    scores = classification_scores(y, probabilities, [0, 1, 2])
    assert scores["accuracy"] == 0.75
    assert scores["recall"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert 0 < scores["log_loss"] < 1 and 0.5 < scores["roc_auc"] <= 1 and 0 < scores["pr_auc"] <= 1


def test_binary_scores_from_a_sigmoid_column_or_two_probability_columns():
    y, p_one = np.array([0, 1, 1, 0]), np.array([0.1, 0.9, 0.4, 0.3])
    scores = classification_scores(y, p_one.reshape(-1, 1), [0, 1])
    assert scores["accuracy"] == 0.75 and scores["roc_auc"] == 1.0 and scores["pr_auc"] == 1.0
    assert scores["recall"] == 0.5 and scores["precision"] == 1.0
    assert classification_scores(y, np.column_stack([1 - p_one, p_one]), [0, 1]) == scores


def test_binary_scores_about_the_positive_class():
    y, p_one = np.array([0, 0, 1, 1, 1, 1]), np.array([0.6, 0.2, 0.9, 0.8, 0.7, 0.4])
    scores = classification_scores(y, p_one.reshape(-1, 1), [0, 1], positive_class=0)
    assert scores["recall"] == 0.5 and scores["precision"] == 0.5  # class 0: one of two found, one of two right


def test_a_constant_predictor_has_the_positive_rate_as_pr_auc():
    y = np.array([0] * 9 + [1])
    scores = classification_scores(y, np.full((10, 1), 0.1), [0, 1], positive_class=1)
    assert scores["pr_auc"] == pytest.approx(0.1)


def test_regression_scores():
    scores = regression_scores(np.array([1.0, 2.0, 3.0]), np.array([[1.0], [2.0], [5.0]]))
    assert scores["mae"] == pytest.approx(2 / 3) and scores["mse"] == pytest.approx(4 / 3)
    assert scores["rmse"] == pytest.approx(np.sqrt(4 / 3))


def test_predict_classes_sigmoid_and_softmax():
    assert predict_classes(np.array([[0.2], [0.7]])).tolist() == [0, 1]
    assert predict_classes(np.array([[0.2, 0.8], [0.9, 0.1]])).tolist() == [1, 0]


def test_fold_summary_is_mean_and_std_of_numbers():
    summary = fold_summary([{"a": 1.0, "flag": True, "n": 2}, {"a": 3.0, "flag": False, "n": 4}])
    assert summary == {"mean": {"a": 2.0, "n": 3.0}, "std": {"a": 1.0, "n": 1.0}}


def test_skill_closes_a_share_of_the_gap_to_perfect():
    assert skill_over(0.98, 0.1, greater_is_better=True) == pytest.approx(0.88 / 0.9)
    assert skill_over(40.0, 60.0, greater_is_better=False) == pytest.approx(1 / 3)
    assert skill_over(0.5, 1.0, greater_is_better=True) == 0.0


def test_too_little_skill_stops_the_pipeline():
    task = define_task("x", "regression", None, 3.0)
    assert check_skill(task, 40.0, 60.0, "mean", 0.2) == pytest.approx(1 / 3)
    with pytest.raises(PipelineError, match=r"test mae 55.0000 against the mean baseline's 60.0000 closes 8.3% "):
        check_skill(task, 55.0, 60.0, "mean", 0.2)


BINARY = define_task("x", "classification", {0: 45, 1: 55}, 3.0)  # scored on accuracy; positive class 0


def test_what_one_example_can_move():
    y = np.array([0, 0, 0, 1, 1, 1, 1, 1])
    assert one_example(BINARY, "accuracy", y, None, None) == 1 / 8
    assert one_example(BINARY, "pr_auc", y, None, None) == 1 / 3  # three examples of the positive class 0
    regression = define_task("x", "regression", None, 3.0)
    assert one_example(regression, "mae", np.zeros(4), np.array([1.0, 1, 1, 1]), np.array([1.0, -3, 2, 1])) == 2 / 4
    multiclass = define_task("x", "classification", {0: 1, 1: 1, 2: 1}, 3.0)
    assert one_example(multiclass, "pr_auc", np.array([0, 0, 1, 1, 1, 2, 2, 2]), None, None) == 1 / (3 * 2)


def test_a_model_not_significantly_better_than_the_baseline_stops_the_pipeline():
    y = np.array([0] * 20 + [1] * 20)
    baseline = np.tile([0.6, 0.4], (40, 1))  # most_frequent: always class 0, accuracy 0.5
    model = np.where((20 <= np.arange(40)) & (np.arange(40) < 24), 0.9, 0.1).reshape(-1, 1)  # 0s and four 1s: 0.6
    comparison = compare_models(BINARY, "accuracy", y, model, baseline, seed=0)
    assert comparison["difference"] == pytest.approx(0.1) and comparison["p_value"] == pytest.approx(0.5 ** 4)
    with pytest.raises(PipelineError, match=r"test accuracy 0\.6000 is not significantly better than the most_frequent "
                       r"baseline's 0\.5000: difference \+0\.1000 \(95% interval \+0\.0[0-9]+ to \+0\.[0-9]+\), "
                       r"one-sided p=0\.0625 \(McNemar's exact test\) above evaluate\.significance=0\.05"):
        check_beats_baseline(BINARY, (0.6, 0.5), "most_frequent", comparison, 0.05)
    check_beats_baseline(BINARY, (0.6, 0.5), "most_frequent", comparison, 0.1)
    model = np.where(np.arange(40) >= 24, 0.9, 0.1).reshape(-1, 1)  # 16 of the 1s too: 0.9, 16 wins, no loss
    comparison = compare_models(BINARY, "accuracy", y, model, baseline, seed=0)
    assert comparison["p_value"] == pytest.approx(0.5 ** 16)
    check_beats_baseline(BINARY, (0.9, 0.5), "most_frequent", comparison, 0.05)


class FixedOutputs:
    """Stands in for a trained Keras model: the same outputs whatever it is asked."""

    def __init__(self, outputs):
        self.outputs = outputs

    def predict(self, x, verbose=0):
        return self.outputs


@pytest.mark.parametrize("ones_right, passes", [(4, False), (16, True)])
def test_the_evaluate_stage_tests_the_model_against_the_baseline_on_the_test_examples(
        project, default_params, monkeypatch, ones_right, passes):
    import json

    import pandas as pd

    from stages import evaluate
    from stages.lib import paths
    from stages.lib.artifacts import write_features
    from stages.lib.io import write_csv, write_json
    from tests.conftest import write_params

    y_test = np.array([0] * 20 + [1] * 20)
    write_features(paths.features_file("test"), np.zeros((40, 2), dtype=np.float32), y_test)
    y_development = (np.arange(40) >= 21).astype(int)  # more 0s: most_frequent says 0
    write_features(paths.features_file("development"), np.zeros((40, 2), dtype=np.float32), y_development)
    write_json(paths.TASK, define_task("x", "classification", {"0": 21, "1": 19}, 3.0).to_dict())
    write_json(paths.BASELINE_METRICS, {"most_frequent": {"validation_mean": {"accuracy": 0.5}}})
    write_json(paths.REGULARIZE_METRICS, {"selected": {"val_accuracy_mean": 0.7, "val_accuracy_std": 0.1,
                                                       "val_accuracy_ci_low": 0.6, "val_accuracy_ci_high": 0.8}})
    write_split({"test": list(range(100, 140)), "development": list(range(40)), "time_ordered": False,
                 "folds": [{"train": list(range(20)), "validation": list(range(20, 40))}]})
    history = pd.DataFrame({"epoch": [1, 2], "loss": [0.7, 0.6], "accuracy": [0.5, 0.6], "val_loss": [0.7, 0.65],
                            "val_accuracy": [0.5, 0.6]})
    write_csv(paths.OVERFIT_HISTORY, history)
    write_csv(paths.REGULARIZED_HISTORY, history)
    write_params(project, {**default_params, "evaluate": {"min_skill_over_baseline": 0.1, "significance": 0.05,
                                                          "bootstrap_samples": 200, "seeds": 1}})
    model = np.where((20 <= np.arange(40)) & (np.arange(40) < 20 + ones_right), 0.9, 0.1).reshape(-1, 1)
    monkeypatch.setattr(evaluate, "load_model", lambda path: FixedOutputs(model))
    if not passes:
        with pytest.raises(PipelineError, match=r"p=0\.0625 \(McNemar's exact test\) above evaluate\.significance="):
            evaluate.main()
        assert not (project / paths.EVALUATE_METRICS).exists()
        return
    evaluate.main()
    result = json.loads((project / paths.EVALUATE_METRICS).read_text())
    assert result["test_accuracy"] == 0.9 and result["gain_over_baseline"] == pytest.approx(0.4)
    assert 0.2 < result["gain_over_baseline_ci_low"] < 0.4 < result["gain_over_baseline_ci_high"] <= 0.6
    assert result["gain_over_baseline_p_value"] == pytest.approx(0.5 ** 16, abs=1e-6)
    assert result["test_accuracy_ci_low"] == pytest.approx(0.7695, abs=1e-4) and result["test_accuracy_ci_high"] < 1
    assert result["validation_accuracy_ci_low"] == 0.6 and result["seeds"] == 1
    predictions = pd.read_csv(project / paths.TEST_PREDICTIONS)
    assert list(predictions.columns) == ["example", "actual", "predicted", "score", "output"]
    assert predictions["example"].tolist() == list(range(100, 140))
    assert (predictions["predicted"] == predictions["actual"]).mean() == 0.9
    assert predictions["score"].min() == pytest.approx(0.9)
    assert json.loads((project / paths.ENVIRONMENT).read_text())["stages"]["evaluate"]
