"""Full-size MNIST- and IMDB-shaped synthetic data through the pipeline's stages: peak memory
of each stage and training time per epoch against a bare Keras script of the book's code.

    python bench/full_size.py imdb [--epochs 3] [--repeats 3]   # 25,000 + 25,000 reviews, 88,585-word ranks
    python bench/full_size.py mnist [--epochs 3] [--repeats 3]  # 60,000 + 10,000 28x28 uint8 images

A synthetic file in the published layout is written to a temporary folder and the stages run
on it in a temporary project, each in its own process, which prints its peak RSS
(ru_maxrss). The stand-in file's sha256 replaces the published one inside those processes
only. Training runs the book's model (IMDB: Dense(16)-Dense(16)-Dense(1), batch 512; MNIST:
Dense(512)-Dense(10), batch 128; rmsprop) on the pipeline's features (sparse multi-hot for
IMDB) and, side by side, the book's own code on the same examples (dense multi-hot for IMDB,
as its vectorize_sequences makes), on fold 0's training and validation examples. Goals:
vectorize under 1.5 GB on IMDB; ratio <= 1.10.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
from clone import ROOT, bench_params, tiny, write_params

sys.path.insert(0, str(ROOT))
from stages.lib.sources import sha256_of_file  # noqa: E402

BOOK = {"imdb": {"units": [16, 16], "batch_size": 512}, "mnist": {"units": [512], "batch_size": 128}}


def synthetic_file(dataset: str, folder: Path) -> Path:
    """The published file's layout and sizes (training, test examples); a few hundred under UWF_BENCH_TINY=1."""
    rng = np.random.default_rng(0)
    path = folder / f"{dataset}.npz"
    if dataset == "mnist":
        n_train, n_test = (600, 100) if tiny() else (60000, 10000)
        np.savez(path, x_train=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
                 y_train=rng.integers(0, 10, n_train).astype(np.uint8),
                 x_test=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
                 y_test=rng.integers(0, 10, n_test).astype(np.uint8))
        return path

    def reviews(n):
        lengths = np.clip(rng.lognormal(5.2, 0.7, n).astype(int), 10, 2494)  # mean about 238 words
        ranks = np.minimum(rng.zipf(1.3, lengths.sum()), 88585)
        texts = np.empty(n, dtype=object)
        texts[:] = [chunk.tolist() for chunk in np.split(ranks, np.cumsum(lengths)[:-1])]
        return texts, rng.integers(0, 2, n)

    n_reviews = 300 if tiny() else 25000
    (x_train, y_train), (x_test, y_test) = reviews(n_reviews), reviews(n_reviews)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


PRELUDE = """
import dataclasses, json, resource, sys, time
sys.path.insert(0, {root!r})
from stages.lib import datasets
spec = datasets.DATASETS[{dataset!r}]
datasets.DATASETS[{dataset!r}] = dataclasses.replace(
    spec, published=dataclasses.replace(spec.published, sha256={sha!r}))
def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

STAGE = "from stages import {stage}\n{stage}.main()\nprint(json.dumps({{'peak_mb': peak_mb()}}))"

PIPELINE_FIT = """
from stages.lib.artifacts import read_features
from scipy.sparse import issparse
from stages.lib.models import build_model, seed_everything, train as train_model
from stages.lib.task import read_task
train, validation = read_features("train", 0), read_features("validation", 0)
task = read_task()
seed_everything(0)  # as the stages do: seeded, op determinism on
model = build_model(train[0].shape[1], task, {units}, "rmsprop", 1e-3, sparse=issparse(train[0]))
start = time.perf_counter()
train_model(model, train, validation, {epochs}, {batch_size}, 0, verbose=0)
print(json.dumps({{"seconds": time.perf_counter() - start, "peak_mb": peak_mb()}}))
"""

BARE_FIT = """
import numpy as np
from stages.lib.kinds import read_raw
from stages.lib.splitting import read_split
import keras
from keras import layers
x, y = read_raw()
split = read_split()
train, validation = split["folds"][0]["train"], split["folds"][0]["validation"]
if {dataset!r} == "imdb":
    def vectorize_sequences(sequences, dimension=10000):  # the book's code, float64 and dense
        results = np.zeros((len(sequences), dimension))
        for i in range(len(sequences)):
            results[i, sequences[[i]].tokens] = 1.
        return results
    x_train, x_val = vectorize_sequences(x[train]), vectorize_sequences(x[validation])
    last = layers.Dense(1, activation="sigmoid"); loss = "binary_crossentropy"
else:
    x_train = x[train].reshape((len(train), 28 * 28)).astype("float32") / 255
    x_val = x[validation].reshape((len(validation), 28 * 28)).astype("float32") / 255
    last = layers.Dense(10, activation="softmax"); loss = "sparse_categorical_crossentropy"
model = keras.Sequential([layers.Dense(u, activation="relu") for u in {units}] + [last])
model.compile(optimizer="rmsprop", loss=loss, metrics=["accuracy"])
start = time.perf_counter()
model.fit(x_train, y[train], epochs={epochs}, batch_size={batch_size}, validation_data=(x_val, y[validation]), verbose=0)
print(json.dumps({{"seconds": time.perf_counter() - start, "peak_mb": peak_mb()}}))
"""


def run(project: Path, prelude: str, body: str) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(body)], cwd=project, env=env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=["imdb", "mnist"])
    parser.add_argument("--epochs", type=int, default=1 if tiny() else 3)
    parser.add_argument("--repeats", type=int, default=1 if tiny() else 3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / "files").mkdir()
        path = synthetic_file(args.dataset, folder / "files")

        project = folder / "project"
        shutil.copytree(ROOT / "stages", project / "stages", ignore=shutil.ignore_patterns("__pycache__"))
        write_params(project, bench_params({"task": {"dataset": args.dataset},
                                            "collect": {"data_dir": str(folder / "files")}}))
        prelude = PRELUDE.format(root=str(ROOT), dataset=args.dataset, sha=sha256_of_file(path))
        print(f"{args.dataset}: synthetic {path.name} of {path.stat().st_size / 1e6:.0f} MB")
        for stage in ("collect", "define_task", "split", "validate", "vectorize"):
            print(f"  {stage:<12} peak RSS {run(project, prelude, STAGE.format(stage=stage))['peak_mb']:7.0f} MB")
        settings = dict(dataset=args.dataset, epochs=args.epochs, **BOOK[args.dataset])
        fits = {"pipeline fit": [], "bare book script": []}
        for repeat in range(args.repeats):  # alternating order, a fresh process per fit
            order = (("pipeline fit", PIPELINE_FIT), ("bare book script", BARE_FIT))
            for name, body in order if repeat % 2 == 0 else order[::-1]:
                fits[name].append(run(project, prelude, body.format(**settings)))
        seconds = {}
        for name, results in fits.items():
            seconds[name] = statistics.median(r["seconds"] / args.epochs for r in results)
            print(f"  {name:<17} median {seconds[name]:6.2f} s/epoch of {len(results)} runs, "
                  f"peak RSS {max(r['peak_mb'] for r in results):7.0f} MB")
        ratio = seconds["pipeline fit"] / seconds["bare book script"]
        print(f"  ratio pipeline / bare per epoch: {ratio:.3f} (goal <= 1.10)")


if __name__ == "__main__":
    main()
