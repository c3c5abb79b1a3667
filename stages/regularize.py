"""regularize: train the candidate regularized models, keep the best on validation only."""
import pandas as pd

from stages.lib import paths
from stages.lib.artifacts import read_features
from stages.lib.errors import run_stage
from stages.lib.evaluation import classification_scores, primary_score_key
from stages.lib.io import atomic_dir, read_json, save_keras_model, write_csv, write_json
from stages.lib.models import fit_mlp, select_candidate
from stages.lib.params import load_params


def main() -> None:
    params = load_params()
    task = read_json(paths.TASK)
    train, validation = read_features("train"), read_features("validation")
    settings = params.regularize
    metric = primary_score_key(task)
    models, histories, results = {}, {}, {}
    for candidate in settings.candidates:
        print(f"regularize: candidate {candidate.name}")
        model, history = fit_mlp(task, train, validation, settings, params.seed, candidate.units,
                                 l1=candidate.l1, l2=candidate.l2, dropout=candidate.dropout,
                                 patience=candidate.early_stopping_patience)
        probabilities = model.predict(validation[0], verbose=0)
        results[candidate.name] = {
            **{f"val_{k}": v for k, v in classification_scores(validation[1], probabilities, task["classes"]).items()},
            "epochs_trained": len(history),
        }
        models[candidate.name], histories[candidate.name] = model, history
    chosen = select_candidate(results, f"val_{metric}")
    config = next(c for c in settings.candidates if c.name == chosen)
    with atomic_dir(paths.REGULARIZED_DIR) as tmp:
        save_keras_model(models[chosen], tmp / "model.keras")
        write_json(tmp / "candidate.json", {**config.model_dump(), "selected_by": f"val_{metric}"})
    write_csv(paths.REGULARIZED_HISTORY, histories[chosen])
    write_csv(paths.CANDIDATE_HISTORIES,
              pd.concat([h.assign(candidate=name) for name, h in histories.items()], ignore_index=True))
    write_json(paths.REGULARIZE_METRICS, {"selected": results[chosen], "candidates": results})
    print(f"regularize: kept '{chosen}' (validation {metric} {results[chosen]['val_' + metric]:.4f})")


if __name__ == "__main__":
    run_stage(main)
