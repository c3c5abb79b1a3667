"""evaluate: the chosen model scored once on the test split, next to the baseline and the overfit model."""
import pandas as pd

from stages.lib import paths
from stages.lib.artifacts import read_features
from stages.lib.baselines import best_baseline
from stages.lib.errors import run_stage
from stages.lib.evaluation import check_margin, classification_scores
from stages.lib.io import read_json, write_csv, write_json
from stages.lib.models import load_model, predict_classes
from stages.lib.params import load_params
from stages.lib.plots import confusion_png, learning_curves_png


def main() -> None:
    params = load_params()
    task = read_json(paths.TASK)
    x_test, y_test = read_features("test")
    strategy, baseline_accuracy = best_baseline(read_json(paths.BASELINE_METRICS))
    probabilities = {
        "regularized": load_model(f"{paths.REGULARIZED_DIR}/model.keras").predict(x_test, verbose=0),
        "overfit": load_model(paths.OVERFIT_MODEL).predict(x_test, verbose=0),
    }
    scores = {name: classification_scores(y_test, p, task["classes"]) for name, p in probabilities.items()}
    margin = check_margin(scores["regularized"]["accuracy"], baseline_accuracy, strategy,
                          params.evaluate.min_margin_over_baseline)
    predicted = predict_classes(probabilities["regularized"])
    write_csv(paths.CONFUSION, pd.DataFrame({"actual": y_test, "predicted": predicted}))
    learning_curves_png(paths.LEARNING_CURVES_PNG, {
        "overfit": pd.read_csv(paths.OVERFIT_HISTORY), "regularized": pd.read_csv(paths.REGULARIZED_HISTORY)})
    confusion_png(paths.CONFUSION_PNG, y_test, predicted, task["classes"], "Regularized model, test split")
    write_json(paths.EVALUATE_METRICS, {
        **{f"test_{k}": v for k, v in scores["regularized"].items()},
        "overfit": {f"test_{k}": v for k, v in scores["overfit"].items()},
        "baseline_test_accuracy": baseline_accuracy,
        "margin_over_baseline": margin,
    })
    print(f"evaluate: test accuracy {scores['regularized']['accuracy']:.4f} (overfit model "
          f"{scores['overfit']['accuracy']:.4f}, {strategy} baseline {baseline_accuracy:.4f})")


if __name__ == "__main__":
    run_stage(main)
