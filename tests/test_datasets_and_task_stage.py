import json
import subprocess
import sys

import numpy as np
import pytest

from stages import define_task
from stages.lib import paths
from stages.lib.datasets import DATASETS, dataset_spec, manifest, stratified_sample
from stages.lib.errors import PipelineError
from stages.lib.io import write_json
from stages.lib.kinds import kind_named
from tests.conftest import ROOT

IMAGES = kind_named("images")


def test_digits_loads_as_declared():
    spec = DATASETS["digits"]
    x, y, details = spec.load(spec, None, "auto")
    assert details == {}
    assert x.shape == (1797, *spec.example_shape) and set(np.unique(y)) == set(spec.classes)
    assert spec.value_range[0] <= x.min() and x.max() <= spec.value_range[1]
    record = manifest(spec, x, y)
    assert record["examples"] == 1797 and sum(record["class_counts"].values()) == 1797
    assert len(record["sha256"]) == 64 and record["sha256"] == manifest(spec, x.copy(), y.copy())["sha256"]


def test_unknown_dataset_is_named():
    with pytest.raises(PipelineError, match="unknown dataset 'cifar'"):
        dataset_spec("cifar")


def test_stratified_sample_keeps_proportions_and_is_seeded():
    x, y = np.arange(400).reshape(200, 2), np.repeat([0, 1, 2, 3], 50)
    small_x, small_y = stratified_sample(IMAGES, x, y, 40, seed=3)
    assert np.bincount(small_y).tolist() == [10, 10, 10, 10]
    np.testing.assert_array_equal(small_x, stratified_sample(IMAGES, x, y, 40, seed=3)[0])
    assert stratified_sample(IMAGES, x, y, None, seed=3)[0] is x
    with pytest.raises(PipelineError, match="collect.limit=2 is too small"):
        stratified_sample(IMAGES, x, y, 2, seed=3)


def test_define_task_refuses_a_single_class(project):
    write_json(project / paths.RAW_MANIFEST, {"dataset": "table", "problem": "classification",
                                              "class_counts": {"3": 100}})
    with pytest.raises(PipelineError, match="at least two classes"):
        define_task.main()
    assert not (project / paths.TASK).exists()


def test_define_task_stage_writes_the_definition(project):
    write_json(project / paths.RAW_MANIFEST, {"dataset": "digits", "problem": "classification",
                                              "class_counts": {str(c): 100 for c in range(10)}})
    define_task.main()
    assert json.loads((project / paths.TASK).read_text())["loss"] == "sparse_categorical_crossentropy"


def test_stage_under_a_python_without_the_dependencies_says_what_to_do():
    # -S hides site-packages: the interpreter a user gets when the environment is not active.
    result = subprocess.run([sys.executable, "-S", "-m", "stages.collect"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1
    assert "lacks the project's dependencies" in result.stderr and "source .venv/bin/activate" in result.stderr
