"""evaluate: the final models scored once on the test split, next to the baseline and the cross-validation.

The model must close evaluate.min_skill_over_baseline of the best baseline's gap to a perfect
score and be significantly better than it on the same test examples (evaluate.significance).
"""
import pandas as pd

from stages.lib import paths
from stages.lib.artifacts import read_features
from stages.lib.baselines import baseline_output, best_baseline, fit_baseline
from stages.lib.errors import run_stage
from stages.lib.evaluation import check_beats_baseline, check_skill, predict_classes, task_scores
from stages.lib.io import read_json, write_csv, write_json
from stages.lib.models import load_model
from stages.lib.paired import compare_models
from stages.lib.params import load_params
from stages.lib.plots import learning_curves_png, predictions_png


def main() -> None:
    params = load_params()
    task = read_json(paths.TASK)
    metric = task["primary_metric"]
    x_test, y_test = read_features("test")
    strategy = best_baseline(read_json(paths.BASELINE_METRICS), metric, task["greater_is_better"])
    baseline = fit_baseline(task, strategy, *read_features("development"), params.seed)
    baseline_outputs = baseline_output(task, baseline, x_test)
    baseline_scores = task_scores(task, y_test, baseline_outputs)
    baseline_score = baseline_scores[metric]
    outputs = {
        "regularized": load_model(f"{paths.REGULARIZED_DIR}/model.keras").predict(x_test, verbose=0),
        "overfit": load_model(paths.OVERFIT_MODEL).predict(x_test, verbose=0),
    }
    scores = {name: task_scores(task, y_test, output) for name, output in outputs.items()}
    skill = check_skill(task, scores["regularized"][metric], baseline_score, strategy,
                        params.evaluate.min_skill_over_baseline)
    # Reference the model, candidate the baseline: the difference is the model's gain over the baseline.
    versus_baseline = compare_models(task, metric, y_test, outputs["regularized"], baseline_outputs, params.seed)
    check_beats_baseline(task, (scores["regularized"][metric], baseline_score), strategy, versus_baseline,
                         params.evaluate.significance)
    regression = task["problem_type"] == "regression"
    predicted = outputs["regularized"][:, 0] if regression else predict_classes(outputs["regularized"])
    write_csv(paths.PREDICTIONS, pd.DataFrame({"actual": y_test, "predicted": predicted}))
    learning_curves_png(paths.LEARNING_CURVES_PNG, {
        "overfit": pd.read_csv(paths.OVERFIT_HISTORY), "regularized": pd.read_csv(paths.REGULARIZED_HISTORY)},
        task["training_metric"])
    predictions_png(paths.PREDICTIONS_PNG, y_test, predicted, task["classes"], "Regularized model, test split")
    validation = read_json(paths.REGULARIZE_METRICS)["selected"]
    write_json(paths.EVALUATE_METRICS, {
        **{f"test_{k}": v for k, v in scores["regularized"].items()},
        f"validation_{metric}_mean": validation[f"val_{metric}_mean"],
        f"validation_{metric}_std": validation[f"val_{metric}_std"],
        "overfit": {f"test_{k}": v for k, v in scores["overfit"].items()},
        "baseline": {f"test_{k}": v for k, v in baseline_scores.items()},
        "skill_over_baseline": skill,
        "gain_over_baseline": versus_baseline["difference"],
        "gain_over_baseline_ci_low": versus_baseline["ci_low"],
        "gain_over_baseline_ci_high": versus_baseline["ci_high"],
        "gain_over_baseline_p_value": versus_baseline["p_value"],
    })
    print(f"evaluate: test {metric} {scores['regularized'][metric]:.4f} (cross-validated "
          f"{validation[f'val_{metric}_mean']:.4f} ± {validation[f'val_{metric}_std']:.4f}; overfit model "
          f"{scores['overfit'][metric]:.4f}; {strategy} baseline {baseline_score:.4f}, better by "
          f"{versus_baseline['difference']:.4f}, one-sided p={versus_baseline['p_value']:.3g})")


if __name__ == "__main__":
    run_stage(main)
