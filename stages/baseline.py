"""baseline: trivial models scored across the validation folds, the bar every model must clear.

A time-ordered split adds the last known value, the common-sense baseline of a series. The test split stays
untouched until evaluate, which scores the best of them there."""
from stages.lib import paths
from stages.lib.artifacts import fold_numbers, read_features
from stages.lib.baselines import baseline_output, fit_baseline, strategies_for
from stages.lib.environment import record
from stages.lib.errors import run_stage
from stages.lib.evaluation import fold_summary, task_scores
from stages.lib.intervals import cross_validated_intervals
from stages.lib.io import read_json, write_json
from stages.lib.kinds import example_times
from stages.lib.params import load_params
from stages.lib.splitting import read_split
from stages.lib.task import read_task


def main() -> None:
    params = load_params()
    task = read_task()
    folds = fold_numbers()
    split = read_split()
    times = example_times() if split["time_ordered"] else None
    results = {}
    for strategy in strategies_for(task, params.baseline.classification, params.baseline.regression,
                                   split["time_ordered"]):
        per_fold, outputs = [], []
        for k in folds:
            train_times = None if times is None else times[split["folds"][k]["train"]]
            model = fit_baseline(task, strategy, *read_features("train", k), params.seed, train_times)
            x_validation, y_validation = read_features("validation", k)
            outputs.append((y_validation, baseline_output(task, model, x_validation)))
            per_fold.append(task_scores(task, *outputs[-1]))
        summary = fold_summary(per_fold)
        intervals = cross_validated_intervals(task, per_fold, outputs, params.seed)
        results[strategy] = {"validation_mean": summary["mean"], "validation_std": summary["std"],
                             **{f"validation_ci_{end}": {k: v[i] for k, v in intervals.items()}
                                for i, end in enumerate(("low", "high"))}}
    write_json(paths.BASELINE_METRICS, results)
    record("baseline")
    metric = task.primary_metric
    for name, result in results.items():
        print(f"baseline {name}: validation {metric} {result['validation_mean'][metric]:.3f} "
              f"± {result['validation_std'][metric]:.3f} over {len(folds)} fold(s)")


if __name__ == "__main__":
    run_stage(main)
