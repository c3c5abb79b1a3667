"""overfit: a model big enough to overfit, proving the problem is learnable (ch. 5), on every fold."""
import numpy as np

from stages.lib import paths
from stages.lib.artifacts import fold_numbers, read_features, read_indexed
from stages.lib.baselines import chance_level
from stages.lib.environment import record
from stages.lib.errors import run_stage
from stages.lib.evaluation import fold_summary
from stages.lib.io import save_keras_model, write_csv, write_json
from stages.lib.models import diagnose, fit_mlp, mean_history, stop_once_overfit
from stages.lib.params import load_params
from stages.lib.task import read_task


def main() -> None:
    params = load_params()
    task = read_task()
    settings = params.overfit
    metric = task.training_metric
    stop = settings.stop_once_overfit
    diagnoses, histories = [], []
    for k in fold_numbers():
        train = read_features("train", k)
        print(f"overfit: fold {k}")
        _, history = fit_mlp(task, train, read_features("validation", k), settings, params.seed, settings.units,
                             callbacks=[stop_once_overfit(settings.overfit_tolerance, stop)] if stop else (),
                             indexed=read_indexed(k))
        diagnoses.append(diagnose(history, settings.overfit_tolerance, chance_level(task, train[1]), metric,
                                  task.greater_is_better))
        histories.append(history)
    # The final model trains as long as the folds did: all the epochs, or their mean once overfitting stopped them.
    epochs = round(np.mean([len(history) for history in histories]))
    print(f"overfit: final model on all development data, {epochs} epochs")
    model, final = fit_mlp(task, read_features("development"), None, settings, params.seed, settings.units,
                           epochs=epochs, indexed=read_indexed())
    summary = fold_summary(diagnoses)
    result = {
        "folds": len(diagnoses),
        "overfit": sum(d["overfit"] for d in diagnoses) > len(diagnoses) / 2,
        "training_failed": any(d["training_failed"] for d in diagnoses),
        "overfit_folds": sum(d["overfit"] for d in diagnoses),
        # Folds that stopped before overfit.epochs once overfitting was shown (overfit.stop_once_overfit).
        "stopped_once_overfit": sum(len(history) < settings.epochs for history in histories),
        **summary,
        "final_model": {"epochs": len(final), "train_loss": final["loss"].iloc[-1],
                        f"train_{metric}": final[metric].iloc[-1]},
    }
    save_keras_model(model, paths.OVERFIT_MODEL)
    write_csv(paths.OVERFIT_HISTORY, mean_history(histories))
    write_json(paths.OVERFIT_METRICS, result)
    record("overfit")
    print(f"overfit: best validation loss at epoch {summary['mean']['best_val_loss_epoch']:.1f} of {settings.epochs} "
          f"(mean of {len(diagnoses)} fold(s)), overfit in {result['overfit_folds']}, stopped once overfit in "
          f"{result['stopped_once_overfit']}, "
          f"training_failed={result['training_failed']}")


if __name__ == "__main__":
    run_stage(main)
