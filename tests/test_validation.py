"""Great Expectations checks on small data, through the validate stage itself."""
import json

import numpy as np
import pandas as pd
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


def table_details(numeric, categorical=(), time_column=None, problem="classification"):
    return {"problem": problem, "columns": {"numeric": list(numeric), "categorical": list(categorical)},
            "time_column": time_column}


def clean_table(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = pd.DataFrame({"signal": y + rng.normal(0, 1.0, n), "noise": rng.normal(0, 1, n),
                      "colour": pd.array(rng.choice(["red", "blue"], n), dtype="string")})
    return x, y


def validate_table(project, x, y, split=None, **details):
    write_raw(project, x, y, spec="table", details=table_details(**details))
    write_json(project / paths.SPLIT, split or holdout_split(y))
    validate.main()
    return json.loads((project / paths.VALIDATION).read_text())


def test_a_clean_table_passes_with_leakage_and_drift_measured(project):
    x, y = clean_table()
    metrics = validate_table(project, x, y, numeric=["signal", "noise"], categorical=["colour"])
    assert metrics["success"] and metrics["max_single_feature_score"] < 0.9 and metrics["max_js_divergence"] < 0.15


def test_a_feature_that_gives_the_label_away_is_target_leakage(project):
    x, y = clean_table()
    x["refund_issued"] = y * 10.0 + np.random.default_rng(1).normal(0, 0.1, len(y))
    with pytest.raises(PipelineError) as error:
        validate_table(project, x, y, numeric=["signal", "noise", "refund_issued"], categorical=["colour"])
    assert "[target_leakage] expect_column_values_to_be_between(column=single_feature_score" in str(error.value)
    assert "feature=refund_issued, single_feature_score=1.0" in str(error.value)
    assert "feature=signal" not in str(error.value)
    assert_no_outputs(project)


def test_a_regression_feature_copying_the_target_is_leakage(project):
    x, _ = clean_table()
    y = np.linspace(0, 100, len(x))
    x["target_copy"] = y
    split = holdout_split(y)
    with pytest.raises(PipelineError, match="feature=target_copy, single_feature_score=0.99"):
        validate_table(project, x, y, split, numeric=["signal", "noise", "target_copy"], categorical=["colour"],
                       problem="regression")


def test_validation_before_training_in_time_breaks_the_arrow_of_time(project):
    x, y = clean_table()
    x["day"] = pd.date_range("2024-01-01", periods=len(y), freq="D")
    order = np.arange(len(y))
    split = {"protocol": "holdout", "test": order[160:].tolist(), "development": order[:160].tolist(),
             "folds": [{"train": order[40:160].tolist(), "validation": order[:40].tolist()}]}
    with pytest.raises(PipelineError) as error:
        validate_table(project, x, y, split, numeric=["signal", "noise"], categorical=["colour"], time_column="day")
    assert "[arrow_of_time] expect_column_values_to_be_in_set(column=after_training, value_set=[True])" in str(error.value)
    assert "fold=0, split=validation, latest_training=2024-06-08 00:00:00, earliest=2024-01-01 00:00:00" in str(error.value)
    ordered = {**split, "folds": [{"train": order[:120].tolist(), "validation": order[120:160].tolist()}]}
    assert validate_table(project, x, y, ordered, numeric=["signal", "noise"], categorical=["colour"],
                          time_column="day")["success"]


def test_a_shifted_feature_between_splits_is_drift(project):
    x, y = clean_table(400)
    split = holdout_split(y)
    x.loc[split["test"], "noise"] += 3.0
    with pytest.raises(PipelineError) as error:
        validate_table(project, x, y, split, numeric=["signal", "noise"], categorical=["colour"])
    assert "[drift] expect_column_values_to_be_between(column=js_divergence, max_value=0.15)" in str(error.value)
    assert "fold=final, split=test, feature=noise" in str(error.value) and "feature=signal" not in str(error.value)


def test_near_duplicate_texts_in_two_splits_are_leakage(project):
    texts = np.array([f"review {i} of a film" for i in range(100)], dtype=object)
    y = np.arange(100) % 2
    split = holdout_split(y)
    texts[split["test"][0]] = "  REVIEW 2 of a   film"  # review 2 is in training
    y[split["test"][0]] = y[2]
    write_raw(project, texts, y, spec="text", details={"problem": "classification", "columns": {"text": "text"}})
    write_json(project / paths.SPLIT, split)
    with pytest.raises(PipelineError, match=r"\[leakage\].*splits=test,train, n_splits=2"):
        validate.main()
