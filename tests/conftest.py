"""Shared helpers: small projects in temporary folders, made the way the stages make them."""
import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from filelock import FileLock

from stages.lib import kinds, paths
from stages.lib.datasets import DATASETS, manifest
from stages.lib.io import write_json
from stages.lib.task import Task, define_task

ROOT = Path(__file__).resolve().parent.parent

# Stages train in one process, whatever the developer's shell says: pytest-xdist already keeps every core busy
# (stages/lib/parallel.py), and the tests that compare parallel runs with serial ones need this serial baseline.
os.environ["UWF_JOBS"] = "1"


@pytest.fixture
def default_params() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def write_params(folder: Path, params: dict) -> None:
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def with_changes(params: dict, **sections) -> dict:
    """A copy of params with some keys of some sections replaced."""
    changed = copy.deepcopy(params)
    for section, values in sections.items():
        if isinstance(values, dict):
            changed[section].update(values)
        else:
            changed[section] = values
    return changed


def digits_like(n_per_class: int = 30, seed: int = 0):
    """Distinct random 8x8 'images' with values 0..16 and ten balanced classes."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(10), n_per_class)
    x = rng.integers(0, 17, size=(len(y), 8, 8)).astype(np.float64)
    return x, y


def write_raw(folder: Path, x, y, spec: str = "digits", details=None) -> None:
    """Raw data and its manifest as collect writes them (tables and texts: pass collect's details)."""
    kinds.kind_named(DATASETS[spec].kind).write_raw(folder / paths.RAW_DIR, x, y)
    write_json(folder / paths.RAW_MANIFEST, manifest(DATASETS[spec], x, y, details=details))


def holdout_split(y) -> dict:
    """Every fifth example to test, every fifth of the rest to validation: stratified by construction."""
    order = np.arange(len(y))
    test, validation, train = order[order % 5 == 0], order[order % 5 == 1], order[order % 5 > 1]
    return {"protocol": "holdout", "shuffle": False, "test": test.tolist(),
            "development": order[order % 5 > 0].tolist(),
            "folds": [{"train": train.tolist(), "validation": validation.tolist()}]}


@pytest.fixture
def project(tmp_path, monkeypatch, default_params):
    """A temporary project folder with the default params, as the working directory."""
    write_params(tmp_path, default_params)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def copy_pipeline(destination: Path) -> None:
    """The files a user's clone has: code, params and pipeline definition."""
    shutil.copytree(ROOT / "stages", destination / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "data" / "examples", destination / "data" / "examples")
    for name in ("dvc.yaml", "params.yaml", ".gitignore", ".dvcignore"):
        shutil.copy(ROOT / name, destination / name)


def built_once(tmp_path_factory, name: str, build) -> Path:
    """The folder `build(folder)` makes, made once per test run however many xdist workers ask for it.

    Tests that change what they are given use a copy of it (copied_repo): each can then run on
    either worker, and none sees another's changes."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the run's folder, which every worker's own folder is in
    folder, done = shared / name, shared / f"{name}.done"
    with FileLock(str(shared / f"{name}.lock")):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a build that failed half-way
            build(folder)
            done.touch()
    return folder


def copied_repo(built: Path, destination: Path) -> Path:
    """A copy of a git + DVC repository built by built_once, as if cloned with its workspace and cache."""
    def dvc_locks(folder, names):  # .dvc/tmp: DVC's locks and per-run state, not the repository's
        return {"tmp"} if Path(folder).name == ".dvc" else set()

    shutil.copytree(built, destination, symlinks=True, ignore=dvc_locks)
    return destination


def run_module(module: str, folder: Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m module args` run in `folder` as a user runs it, with the project importable."""
    return subprocess.run([sys.executable, "-m", module, *args], cwd=folder, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def classification_task(n_classes: int) -> Task:
    """A balanced task of `n_classes` (at least 3: a softmax of as many units) as define_task makes it."""
    return define_task("x", "classification", {c: 10 for c in range(n_classes)}, 3.0)


THREE_CLASSES = classification_task(3)


def export_tiny_model(folder: Path, preprocessor, x, y, manifest: dict, task: Task, sparse: bool = False):
    """Fit the preprocessor, train a tiny model on its features and export both into `folder` as the
    export stage does; returns (signature, raw batch of x, the trained model's outputs on it, gaps)."""
    from stages.lib.export import inference_model, output_gaps, preprocessing_model, raw_batch, write_export
    from stages.lib.models import build_model

    features = preprocessor.fit(x).transform(x)
    trained = build_model(features.shape[1], task, [8], "rmsprop", 0.01, sparse=sparse,
                          indexed=preprocessor.statistics().get("indexed"))
    trained.fit(features, y, epochs=2, batch_size=16, verbose=0)
    model, signature = inference_model(preprocessing_model(preprocessor, manifest), trained, preprocessor.statistics(),
                                       manifest, task)
    signature["model_name"] = "digits"
    write_export(folder, model, signature)
    inputs = raw_batch(x, signature["input"])
    expected = trained.predict(features, verbose=0)
    return signature, inputs, expected, output_gaps(folder, model, inputs, expected)


@pytest.fixture(scope="module")
def image_export(tmp_path_factory):
    """A tiny model on digits-like images, exported with its preprocessing (once per module: it takes seconds)."""
    from stages.lib.kinds.images import ImageFeatures

    folder = tmp_path_factory.mktemp("export")
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 16, size=(60, 8, 8)), rng.integers(0, 3, 60)
    signature, inputs, expected, gaps = export_tiny_model(folder, ImageFeatures("standard"), x, y,
                                                          {"kind": "images", "example_shape": [8, 8]}, THREE_CLASSES)
    return {"folder": folder, "signature": signature, "inputs": inputs, "expected": expected, "gaps": gaps}
