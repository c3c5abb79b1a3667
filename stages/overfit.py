"""overfit: a model big enough to overfit, proving the problem is learnable (ch. 5)."""
from stages.lib import paths
from stages.lib.artifacts import read_features
from stages.lib.baselines import chance_accuracy
from stages.lib.errors import run_stage
from stages.lib.io import read_json, save_keras_model, write_csv, write_json
from stages.lib.models import diagnose, fit_mlp
from stages.lib.params import load_params


def main() -> None:
    params = load_params()
    task = read_json(paths.TASK)
    train, validation = read_features("train"), read_features("validation")
    settings = params.overfit
    model, history = fit_mlp(task, train, validation, settings, params.seed, settings.units)
    diagnosis = diagnose(history, settings.overfit_tolerance, chance_accuracy(train[1]))
    save_keras_model(model, paths.OVERFIT_MODEL)
    write_csv(paths.OVERFIT_HISTORY, history)
    write_json(paths.OVERFIT_METRICS, diagnosis)
    print(f"overfit: best validation loss at epoch {diagnosis['best_val_loss_epoch']} of {diagnosis['epochs']}, "
          f"overfit={diagnosis['overfit']}, training_failed={diagnosis['training_failed']}")


if __name__ == "__main__":
    run_stage(main)
