"""evaluate: the final models scored once on the test split, next to the baseline and the cross-validation.

Every test score comes with its 95% interval over the test examples (evaluate.bootstrap_samples),
every test example's prediction is written to reports/predictions.csv, and with evaluate.seeds > 1
the chosen configuration is retrained with more seeds to measure the training noise.
The model must close evaluate.min_skill_over_baseline of the best baseline's gap to a perfect
score and be significantly better than it on the same test examples (evaluate.significance).
"""
import numpy as np
import pandas as pd

from stages.lib import paths
from stages.lib.artifacts import read_features, read_indexed
from stages.lib.baselines import LAST_VALUE, baseline_output, best_baseline, fit_baseline
from stages.lib.environment import record
from stages.lib.errors import run_stage
from stages.lib.evaluation import (check_beats_baseline, check_skill, predict_classes, predictions_frame,
                                   task_scores)
from stages.lib.intervals import score_intervals, with_interval, with_intervals
from stages.lib.io import read_json, write_csv, write_json
from stages.lib.kinds import example_times
from stages.lib.models import fit_candidate, load_model, predict
from stages.lib.paired import compare_models
from stages.lib.params import load_params
from stages.lib.plots import learning_curves_png, predictions_png
from stages.lib.splitting import read_split
from stages.lib.task import Task, read_task


def seed_spread(task: Task, params, development, x_test, y_test, first: dict) -> dict:
    """test_<metric>_seed_mean and _seed_std over the committed model (`first`, its scores) and the kept
    candidate retrained with seeds seed+1 ... seed+evaluate.seeds-1."""
    candidate = read_json(f"{paths.REGULARIZED_DIR}/candidate.json")
    runs = [first]
    for extra in range(1, params.evaluate.seeds):
        print(f"evaluate: retraining '{candidate['name']}' with seed {params.seed + extra}")
        model = fit_candidate(task, development, candidate, params.regularize, params.seed + extra, verbose=0,
                              indexed=read_indexed())
        runs.append(task_scores(task, y_test, predict(model, x_test)))
    spread = {}
    for metric in first:
        values = np.array([run[metric] for run in runs])
        spread[f"test_{metric}_seed_mean"], spread[f"test_{metric}_seed_std"] = values.mean(), values.std(ddof=1)
    return spread


def main() -> None:
    params = load_params()
    settings = params.evaluate
    task = read_task()
    metric = task.primary_metric
    x_test, y_test = read_features("test")
    strategy = best_baseline(read_json(paths.BASELINE_METRICS), metric, task.greater_is_better)
    development = read_features("development")
    split = read_split()
    development_times = example_times()[split["development"]] if split["time_ordered"] else None
    outputs = {
        "regularized": predict(load_model(f"{paths.REGULARIZED_DIR}/model.keras"), x_test),
        "overfit": predict(load_model(paths.OVERFIT_MODEL), x_test),
        "baseline": baseline_output(task, fit_baseline(task, strategy, *development, params.seed, development_times),
                                    x_test),
    }
    if split["time_ordered"]:  # the card says when the model loses to it, whichever baseline the gate used
        outputs[LAST_VALUE] = baseline_output(
            task, fit_baseline(task, LAST_VALUE, *development, params.seed, development_times), x_test)
    scores = {name: task_scores(task, y_test, output) for name, output in outputs.items()}
    intervals = dict(zip(outputs, score_intervals(task, y_test, list(outputs.values()), settings.bootstrap_samples,
                                                  params.seed)))
    baseline_score = scores["baseline"][metric]
    skill = check_skill(task, scores["regularized"][metric], baseline_score, strategy,
                        settings.min_skill_over_baseline)
    # Reference the model, candidate the baseline: the difference is the model's gain over the baseline.
    versus_baseline = compare_models(task, metric, y_test, outputs["regularized"], outputs["baseline"], params.seed,
                                     settings.bootstrap_samples)
    check_beats_baseline(task, (scores["regularized"][metric], baseline_score), strategy, versus_baseline,
                         settings.significance)
    # Before any output is written: an interrupted retraining leaves the previous outputs as they were.
    spread = seed_spread(task, params, development, x_test, y_test, scores["regularized"]) if settings.seeds > 1 else {}
    regression = task.is_regression
    predicted = outputs["regularized"][:, 0] if regression else predict_classes(outputs["regularized"])
    write_csv(paths.PREDICTIONS, pd.DataFrame({"actual": y_test, "predicted": predicted}))
    write_csv(paths.TEST_PREDICTIONS,
              predictions_frame(task, split["test"], y_test, outputs["regularized"]),
              float_format="%.8g")
    learning_curves_png(paths.LEARNING_CURVES_PNG, {
        "overfit": pd.read_csv(paths.OVERFIT_HISTORY), "regularized": pd.read_csv(paths.REGULARIZED_HISTORY)},
        task.training_metric)
    predictions_png(paths.PREDICTIONS_PNG, y_test, predicted, task.classes, "Regularized model, test split")
    validation = read_json(paths.REGULARIZE_METRICS)["selected"]
    validation_keys = [f"validation_{metric}_{end}" for end in ("mean", "std", "ci_low", "ci_high")]
    write_json(paths.EVALUATE_METRICS, {
        **with_intervals(scores["regularized"], intervals["regularized"], prefix="test_"),
        **{key: validation[key.replace("validation_", "val_")] for key in validation_keys},
        "seeds": settings.seeds,
        **spread,
        "overfit": with_intervals(scores["overfit"], intervals["overfit"], prefix="test_"),
        "baseline": with_intervals(scores["baseline"], intervals["baseline"], prefix="test_"),
        **({LAST_VALUE: with_intervals(scores[LAST_VALUE], intervals[LAST_VALUE], prefix="test_")}
           if LAST_VALUE in scores else {}),
        "skill_over_baseline": skill,
        "gain_over_baseline": versus_baseline["difference"],
        "gain_over_baseline_ci_low": versus_baseline["ci_low"],
        "gain_over_baseline_ci_high": versus_baseline["ci_high"],
        "gain_over_baseline_p_value": versus_baseline["p_value"],
    })
    record("evaluate")

    def shown(name: str, key: str = metric) -> str:
        return with_interval(scores[name][key], *intervals[name][key])

    noise = (f"; across {settings.seeds} seeds {spread[f'test_{metric}_seed_mean']:.4g} ± "
             f"{spread[f'test_{metric}_seed_std']:.2g}" if spread else "")
    # R² is against the test split's own mean: below 0, the model does worse than that constant.
    r2 = f"; R² {shown('regularized', 'r2')} against the test split's own mean" if regression else ""
    last = (f"; last known value {shown(LAST_VALUE)}" if LAST_VALUE in scores and strategy != LAST_VALUE else "")
    print(f"evaluate: test {metric} {shown('regularized')}{r2} (cross-validated "
          f"{with_interval(*(validation[f'val_{metric}_{end}'] for end in ('mean', 'ci_low', 'ci_high')))}"
          f"{noise}; overfit model {shown('overfit')}{last}; {strategy} baseline {shown('baseline')}, better by "
          f"{versus_baseline['difference']:.4f}, one-sided p={versus_baseline['p_value']:.3g})")


if __name__ == "__main__":
    run_stage(main)
