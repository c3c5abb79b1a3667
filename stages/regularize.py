"""regularize: train every candidate on every fold, keep the best by mean validation score,
then train it on all development data."""
import pandas as pd

from stages.lib import paths
from stages.lib.artifacts import fold_numbers, read_features, read_indexed
from stages.lib.environment import record
from stages.lib.errors import run_stage
from stages.lib.evaluation import fold_summary, task_scores, tie_breaker
from stages.lib.intervals import cross_validated_intervals, with_interval
from stages.lib.io import atomic_dir, save_keras_model, write_csv, write_json
from stages.lib.models import (best_epoch, final_epochs, fit_candidate, fit_mlp, mean_history, predict,
                               select_candidate, stopping_metric)
from stages.lib.parallel import parallel_map
from stages.lib.params import load_params
from stages.lib.task import read_task


def cross_validate(task, candidate, settings, seed) -> tuple:
    """(validation scores per fold, (y, output) per fold, best epoch per fold, per-epoch mean history) of one candidate.

    Candidates run side by side (parallel_map), so a fold prints one line when done rather than Keras' epoch lines.
    """
    scores, outputs, best_epochs, histories = [], [], [], []
    for k in fold_numbers():
        validation = read_features("validation", k)
        model, history = fit_mlp(task, read_features("train", k), validation, settings, seed, candidate.units,
                                 l1=candidate.l1, l2=candidate.l2, dropout=candidate.dropout,
                                 patience=candidate.early_stopping_patience, verbose=0, indexed=read_indexed(k))
        outputs.append((validation[1], predict(model, validation[0])))
        scores.append({**task_scores(task, *outputs[-1]), "epochs_trained": len(history)})
        best_epochs.append(best_epoch(history, stopping_metric(task)))
        histories.append(history)
        print(f"regularize: candidate {candidate.name}, fold {k}: {len(history)} epochs, validation "
              f"{task.primary_metric} {scores[-1][task.primary_metric]:.4f}", flush=True)
    return scores, outputs, best_epochs, mean_history(histories)


def main() -> None:
    params = load_params()
    task = read_task()
    settings = params.regularize
    metric = task.primary_metric
    results, histories, epochs = {}, {}, {}
    cross_validated = parallel_map(cross_validate, [(task, c, settings, params.seed) for c in settings.candidates])
    for candidate, (scores, outputs, best_epochs, histories[candidate.name]) in zip(settings.candidates,
                                                                                   cross_validated):
        summary = fold_summary(scores)
        intervals = cross_validated_intervals(task, scores, outputs, params.seed)
        results[candidate.name] = {**{f"val_{k}_mean": v for k, v in summary["mean"].items()},
                                   **{f"val_{k}_std": v for k, v in summary["std"].items()},
                                   **{f"val_{k}_ci_{end}": interval[i] for k, interval in intervals.items()
                                      for i, end in enumerate(("low", "high"))}}
        epochs[candidate.name] = final_epochs(best_epochs, candidate.early_stopping_patience is not None,
                                              settings.epochs)
    chosen = select_candidate(results, f"val_{metric}_mean", task.greater_is_better,
                              f"val_{tie_breaker(task)}_mean")
    config = next(c for c in settings.candidates if c.name == chosen)
    print(f"regularize: final '{chosen}' model on all development data, {epochs[chosen]} epochs")
    kept = {**config.model_dump(), "selected_by": f"val_{metric}_mean", "final_epochs": epochs[chosen]}
    model = fit_candidate(task, read_features("development"), kept, settings, params.seed, indexed=read_indexed())
    with atomic_dir(paths.REGULARIZED_DIR) as tmp:
        save_keras_model(model, tmp / "model.keras")
        write_json(tmp / "candidate.json", kept)
    write_csv(paths.REGULARIZED_HISTORY, histories[chosen])
    write_csv(paths.CANDIDATE_HISTORIES,
              pd.concat([h.assign(candidate=name) for name, h in histories.items()], ignore_index=True))
    write_json(paths.REGULARIZE_METRICS, {"folds": len(fold_numbers()), "final_epochs": epochs[chosen],
                                          "selected": results[chosen], "candidates": results})
    record("regularize")
    kept_scores = results[chosen]
    print(f"regularize: kept '{chosen}' (validation {metric} " + with_interval(
        kept_scores[f"val_{metric}_mean"], kept_scores[f"val_{metric}_ci_low"], kept_scores[f"val_{metric}_ci_high"])
        + f" ± {kept_scores[f'val_{metric}_std']:.4f})")


if __name__ == "__main__":
    run_stage(main)
