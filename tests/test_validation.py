"""Great Expectations checks on small data, through the validate stage itself."""
import json

import numpy as np
import pytest

from stages import validate
from stages.lib import paths
from stages.lib.errors import PipelineError
from stages.lib.io import row_hashes, write_json
from stages.lib.validation import class_proportions, feature_summary, split_overlaps
from tests.conftest import digits_like, holdout_split, write_raw


def run_validate(project, x, y, split):
    write_raw(project, x, y)
    write_json(project / paths.SPLIT, split)
    validate.main()


def assert_no_outputs(project):
    assert not (project / paths.VALIDATION).exists()
    assert not (project / paths.VALIDATION_RESULTS).exists()
    assert not (project / paths.DATA_DOCS).exists()


def test_clean_data_passes_and_writes_metrics_and_data_docs(project):
    x, y = digits_like()
    run_validate(project, x, y, holdout_split(y))
    metrics = json.loads((project / paths.VALIDATION).read_text())
    assert metrics["success"] and metrics["failed_expectations"] == 0
    assert metrics["cross_split_duplicates"] == 0 and metrics["missing_values"] == 0
    assert metrics["max_class_proportion_gap"] < 0.01
    assert (project / paths.DATA_DOCS / "index.html").exists()


def test_same_example_in_train_and_test_is_leakage(project):
    x, y = digits_like()
    split = holdout_split(y)
    split["folds"][0]["train"].append(split["test"][3])
    with pytest.raises(PipelineError) as error:
        run_validate(project, x, y, split)
    message = str(error.value)
    assert "[leakage] expect_column_values_to_be_between(column=n_splits, max_value=1.0)" in message
    assert f"fold=0, hash={row_hashes(x[[split['test'][3]]])[0]}, splits=test,train, n_splits=2" in message
    assert "\n" not in message
    assert_no_outputs(project)


def test_duplicate_content_under_two_indices_is_leakage(project):
    x, y = digits_like()
    split = holdout_split(y)
    x[split["folds"][0]["validation"][0]] = x[split["test"][0]]
    with pytest.raises(PipelineError, match="splits=test,validation"):
        run_validate(project, x, y, split)


def test_class_missing_from_a_split_names_split_and_class(project):
    x, y = digits_like()
    split = holdout_split(y)
    split["folds"][0]["validation"] = [i for i in split["folds"][0]["validation"] if y[i] != 7]
    with pytest.raises(PipelineError) as error:
        run_validate(project, x, y, split)
    assert "[representativeness] expect_column_values_to_be_between(column=count, min_value=1.0)" in str(error.value)
    assert "fold=0, split=validation, class=7, count=0" in str(error.value)
    assert_no_outputs(project)


def test_nan_features_are_named(project):
    x, y = digits_like()
    x[4, 2, 3] = np.nan
    with pytest.raises(PipelineError) as error:
        run_validate(project, x, y, holdout_split(y))
    assert "[schema_and_ranges] expect_column_values_to_be_in_set(column=missing, value_set=[0])" in str(error.value)
    assert "failed for feature=f19, missing=1" in str(error.value)
    assert_no_outputs(project)


def test_out_of_range_values_and_unknown_labels(project):
    x, y = digits_like()
    x[0, 0, 1] = 99.0
    y = y.copy()
    y[y == 9] = 11
    with pytest.raises(PipelineError) as error:
        run_validate(project, x, y, holdout_split(y))
    assert "feature=f1, max=99.0" in str(error.value)
    assert "column=target, value_set=[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]" in str(error.value)


def test_derived_frames():
    x = np.array([[0.0, 1.0], [np.nan, 3.0], [2.0, 5.0]])
    summary = feature_summary(x)
    assert summary[["min", "max", "missing"]].values.tolist() == [[0.0, 2.0, 1], [1.0, 5.0, 0]]
    y = np.array([0, 0, 1, 1])
    split = {"test": [0, 2], "folds": [{"train": [1], "validation": [3]}]}
    proportions = class_proportions(y, split, [0, 1])
    assert proportions.query("split == 'train'")["count"].tolist() == [1, 0]
    assert proportions["gap"].max() == pytest.approx(0.5)
    overlaps = split_overlaps(np.array(["a", "b", "a", "c"]), split)
    assert overlaps.set_index("hash").loc["a", "splits"] == "test"
    assert overlaps.set_index("hash").loc["a", "n_splits"] == 1


def test_validate_stage_exits_nonzero_with_one_line(project):
    import subprocess
    import sys

    from tests.conftest import ROOT

    x, y = digits_like()
    split = holdout_split(y)
    split["folds"][0]["train"].append(split["test"][0])
    write_raw(project, x, y)
    write_json(project / paths.SPLIT, split)
    result = subprocess.run([sys.executable, "-m", "stages.validate"], cwd=project, capture_output=True, text=True,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(project)})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: validation failed (1 expectation(s)): [leakage]")
    assert not [path for path in (project / "reports").rglob("*") if path.is_file()]
