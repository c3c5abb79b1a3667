"""Time the regularize stage's training against a bare Keras script, side by side.

Both fit the kept candidate's model (models/regularized/candidate.json, or params.yaml's candidate
--candidate NAME; early stopping off so both run the same epochs) on the same arrays (fold 0's training and validation features, as
regularize trains on each fold), each in a fresh process, in alternating order. Prints the
median fit time of each and their ratio (goal <= 1.05).

    python bench/regularize_vs_keras.py [--repeats 5] [--epochs N] [--repo FOLDER] [--candidate NAME]

Run `dvc repro regularize` first, in this checkout or in the project folder given (e.g. one
made by `python bench/clone.py FOLDER --repro regularize`): it needs the features and the kept candidate;
with --candidate, `dvc repro vectorize` is enough (bench/scale.py --through vectorize --keep FOLDER
makes a large table's clone: its features are sparse when most of their values are zeros).
"""
import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from clone import ROOT, tiny

sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def load_settings(name=None):
    """(the kept candidate, or params' candidate `name`; params' regularize section); the working directory
    is the project."""
    from stages.lib import paths
    from stages.lib.io import read_json
    from stages.lib.params import load_params

    settings = load_params().regularize
    if name is not None:
        named = [c.model_dump() for c in settings.candidates if c.name == name]
        if not named:
            sys.exit(f"--candidate {name}: params.yaml's regularize.candidates are "
                     f"{', '.join(c.name for c in settings.candidates)}")
        return named[0], settings
    if not Path(paths.REGULARIZED_DIR, "candidate.json").is_file():
        sys.exit(f"{Path.cwd() / paths.REGULARIZED_DIR} holds no kept candidate: run `dvc repro regularize` there "
                 "first, or name one of params.yaml's with --candidate")
    return read_json(f"{paths.REGULARIZED_DIR}/candidate.json"), settings


def load_inputs(name=None):
    from stages.lib.artifacts import in_memory, read_features, read_indexed
    from stages.lib.params import load_params
    from stages.lib.task import read_task

    candidate, settings = load_settings(name)
    # Both sides train on data in memory (the comparison the issue asks for), however large the files.
    return (in_memory(read_features("train", 0)), in_memory(read_features("validation", 0)), read_task(), candidate,
            settings, load_params().seed, read_indexed(0))


def fit_pipeline(epochs: int, name=None) -> float:
    """The stage's own training path: stages.lib.models.fit_mlp."""
    import keras  # noqa: F401  (imported before the clock starts, as in fit_bare)

    from stages.lib.models import fit_mlp

    train, validation, task, candidate, settings, seed, indexed = load_inputs(name)
    settings = settings.model_copy(update={"epochs": epochs})
    start = time.perf_counter()
    with contextlib.redirect_stdout(open(os.devnull, "w")):
        fit_mlp(task, train, validation, settings, seed, candidate["units"], l1=candidate["l1"],
                l2=candidate["l2"], dropout=candidate["dropout"], indexed=indexed)
    return time.perf_counter() - start


def fit_bare(epochs: int, name=None) -> float:
    """What a reader of the book would write: Sequential, compile, fit."""
    import keras
    from keras import layers, regularizers
    from scipy.sparse import issparse

    from stages.lib.models import batch_size_for
    from stages.lib.table_layer import IndexedDense

    train, validation, task, candidate, settings, seed, indexed = load_inputs(name)
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    model = keras.Sequential([keras.Input(shape=(train[0].shape[1],), sparse=issparse(train[0]))])
    for number, width in enumerate(candidate["units"]):
        regularizer = regularizers.L1L2(l1=candidate["l1"], l2=candidate["l2"])
        if number == 0 and indexed:  # the table's indexed categories: the same first layer as the pipeline's
            model.add(IndexedDense(width, indexed["positions"], indexed["sizes"], indexed["masked"], activation="relu",
                                   kernel_regularizer=regularizer))
        else:
            model.add(layers.Dense(width, activation="relu", kernel_regularizer=regularizer))
        if candidate["dropout"]:
            model.add(layers.Dropout(candidate["dropout"]))
    model.add(layers.Dense(task.output_units, activation=task.last_layer_activation))
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=settings.learning_rate), loss=task.loss,
                  metrics=[task.training_metric])
    with contextlib.redirect_stdout(open(os.devnull, "w")):
        model.fit(*train, validation_data=validation, epochs=epochs,
                  batch_size=batch_size_for(settings.batch_size, train[0].shape[0]), verbose=2)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1 if tiny() else 5)
    parser.add_argument("--epochs", type=int, help="default: regularize.epochs from params.yaml")
    parser.add_argument("--repo", type=Path, default=ROOT, help="the project folder (default: this checkout)")
    parser.add_argument("--candidate", metavar="NAME",
                        help="params.yaml's regularize candidate NAME instead of the kept one (needs only vectorize)")
    parser.add_argument("--one", choices=["pipeline", "bare"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.chdir(args.repo)
    if args.one:
        print(json.dumps({"pipeline": fit_pipeline, "bare": fit_bare}[args.one](args.epochs, args.candidate)))
        return
    candidate, settings = load_settings(args.candidate)
    epochs = args.epochs or settings.epochs
    times = {"pipeline": [], "bare": []}
    for repeat in range(args.repeats):
        order = ("pipeline", "bare") if repeat % 2 == 0 else ("bare", "pipeline")
        for kind in order:
            named = ["--candidate", args.candidate] if args.candidate else []
            result = subprocess.run([sys.executable, __file__, "--one", kind, "--epochs", str(epochs),
                                     "--repo", str(Path.cwd()), *named],
                                    capture_output=True, text=True)
            if result.returncode != 0:
                sys.exit(f"the {kind} fit failed:\n{result.stderr[-3000:]}")
            times[kind].append(float(result.stdout.strip().splitlines()[-1]))
    pipeline, bare = statistics.median(times["pipeline"]), statistics.median(times["bare"])
    print(f"candidate '{candidate['name']}' {candidate['units']}, {epochs} epochs, {args.repeats} runs each, "
          "alternating, fresh process per run")
    print(f"pipeline fit (stages.lib.models.fit_mlp): median {pipeline:.2f} s  runs {[round(t, 2) for t in times['pipeline']]}")
    print(f"bare Keras script:                       median {bare:.2f} s  runs {[round(t, 2) for t in times['bare']]}")
    print(f"ratio pipeline / bare: {pipeline / bare:.3f} (goal <= 1.05)")


if __name__ == "__main__":
    main()
