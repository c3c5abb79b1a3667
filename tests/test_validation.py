"""Great Expectations checks on small data, through the validate stage itself."""
import json
import re

import numpy as np
import pandas as pd
import pytest

from stages import validate
from stages.lib import paths
from stages.lib.errors import PipelineError
from stages.lib.io import write_json
from stages.lib.kinds import kind_named
from stages.lib.kinds.images import feature_summary
from stages.lib.params import SplitParams, ValidateParams
from stages.lib.sequences import Sequences
from stages.lib.splitting import make_split, write_split
from stages.lib.validation import (
    build_checks,
    class_proportions,
    out_of_range,
    split_overlaps,
    target_summary,
    time_index_columns,
)
from tests.conftest import digits_like, holdout_split, with_changes, write_params, write_raw


def run_validate(project, x, y, split):
    write_raw(project, x, y)
    write_split(split, project)
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
    duplicate = kind_named("images").row_hashes(x[[split["test"][3]]])[0]
    assert f"fold=0, hash={duplicate}, splits=test,train, n_splits=2" in message
    assert message.endswith("rebuild the split with `dvc repro split`, which keeps repeats together, or set "
                            "collect.deduplicate: true so that they are dropped")
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
    assert "keep split.shuffle: true (stratified splits)" in str(error.value)
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
    targets = target_summary(np.array([1, 0, 1, 2, 0]), classification=True)  # a row per value, not per example
    assert targets.values.tolist() == [[0, 2, 1], [1, 2, 0], [2, 1, 3]]
    finite = target_summary(np.array([1.5, np.nan, 2.0, np.inf]), classification=False)
    assert finite.values.tolist() == [[False, 2, 1], [True, 2, 0]]
    overlaps = split_overlaps(np.array(["a", "b", "a", "c"]), split)  # "a" twice, both in test: one content
    assert overlaps["hash"].isna().all() and overlaps.set_index("splits")["contents"].to_dict() == {
        "test": 1, "train": 1, "validation": 1}
    overlaps = split_overlaps(np.array([7, 9, 9, 8], dtype=np.uint64), split)  # 9 in train and test
    shared = overlaps.dropna(subset=["hash"])
    assert shared[["hash", "splits", "n_splits", "contents"]].values.tolist() == [["0000000000000009", "test,train", 2, 1]]
    assert overlaps.query("n_splits == 1").set_index("splits")["contents"].to_dict() == {"test": 1, "validation": 1}


def test_validate_stage_exits_nonzero_with_one_line(project):
    import subprocess
    import sys

    from tests.conftest import ROOT

    x, y = digits_like()
    split = holdout_split(y)
    split["folds"][0]["train"].append(split["test"][0])
    write_raw(project, x, y)
    write_split(split, project)
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
    write_split(split or holdout_split(y), project)
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
    assert "exclude it with collect.table.exclude, or raise validate.max_single_feature_score" in str(error.value)
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
    assert "[drift] expect_column_values_to_be_in_set(column=drifted, value_set=[False])" in str(error.value)
    assert "fold=final, split=test, feature=noise" in str(error.value) and "feature=signal" not in str(error.value)
    assert "raise validate.max_js_divergence, or set validate.drift: report" in str(error.value)


def test_near_duplicate_texts_in_two_splits_are_leakage(project):
    texts = np.array([f"review {i} of a film" for i in range(100)], dtype=object)
    y = np.arange(100) % 2
    split = holdout_split(y)
    texts[split["test"][0]] = "  REVIEW 2 of a   film"  # review 2 is in training
    y[split["test"][0]] = y[2]
    write_raw(project, texts, y, spec="text", details={"problem": "classification", "columns": {"text": "text"}})
    write_split(split, project)
    with pytest.raises(PipelineError, match=r"\[leakage\].*splits=test,train, n_splits=2"):
        validate.main()


def economics(n=574, seed=0):
    """A monthly table like FRED's US economic series: trending real series (spending, a population
    that grows by irregular whole numbers), noisy ones, an integer row id, and a noisy unemployment target."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x = pd.DataFrame({
        "id": t + 1.0,
        "pce": 507.0 * np.exp(0.0055 * t) * (1 + rng.normal(0, 0.01, n)),
        "pop": 198712.0 + np.concatenate([[0], np.cumsum(rng.integers(150, 280, n - 1))]),
        "psavert": 12 - 0.01 * t + rng.normal(0, 1.5, n),
        "uempmed": 8 + 3 * np.sin(t / 50) + rng.normal(0, 1, n),
    })
    x["date"] = pd.date_range("1967-07-01", periods=n, freq="MS")
    y = 7000 + 2500 * np.sin(t / 70) + 10 * t + rng.normal(0, 600, n)
    return x, y


def validate_economics(project, default_params, x, y, **validate_changes):
    write_params(project, with_changes(default_params, validate=validate_changes))
    split = make_split(y, SplitParams(**default_params["split"]), 0, time=x["date"].to_numpy(), stratify=False)
    assert split["time_ordered"] and split["protocol"] == "kfold"
    numeric = [c for c in x.columns if c != "date"]
    return validate_table(project, x, y, split, numeric=numeric, time_column="date", problem="regression")


def test_a_row_id_in_a_time_ordered_table_fails_naming_it_and_what_to_do(project, default_params):
    x, y = economics()
    with pytest.raises(PipelineError) as error:
        validate_economics(project, default_params, x, y)
    message = str(error.value)
    assert message.startswith("validation failed (1 expectation(s)): [time_index] expect_column_values_to_be_in_set("
                              "column=encodes_time_order, value_set=[False]) failed for feature=id, step=1.0, "
                              "step_share=1.0, encodes_time_order=True: the column counts up with time")
    assert "drop it, or exclude it with collect.table.exclude (or set validate.time_index: report)" in message
    assert "feature=pop" not in message and "[drift]" not in message and "\n" not in message
    assert_no_outputs(project)


def test_trending_series_in_a_time_ordered_table_pass_with_drift_reported(project, default_params):
    x, y = economics()
    metrics = validate_economics(project, default_params, x.drop(columns="id"), y)
    assert metrics["success"] and metrics["failed_expectations"] == 0 and metrics["time_index_columns"] == 0
    assert metrics["max_js_divergence"] > 0.8 and metrics["drifted_features"] >= 2
    assert metrics["reported_expectations"] == 2 and metrics["max_out_of_range_share"] == 1.0
    results = {o["suite"]: o for o in json.loads((project / paths.VALIDATION_RESULTS).read_text())}
    assert results["time_index"]["success"]
    for suite in ("drift", "out_of_range"):
        assert (results[suite]["success"], results[suite]["severity"]) == (False, "warning")
        assert {"pce", "pop"} <= {row["feature"] for row in results[suite]["offending"]}
    assert "set validate.drift: fail to enforce" in results["drift"]["hint"]
    test_pop = [r for r in results["out_of_range"]["offending"] if (r["split"], r["feature"]) == ("test", "pop")]
    assert test_pop == [{"fold": "final", "split": "test", "feature": "pop", "out_of_range_share": 1.0}]
    drift_page = next((project / paths.DATA_DOCS / "validations" / "drift").rglob("*.html")).read_text()
    assert "pop" in drift_page and "Failed" in drift_page


def test_drift_and_out_of_range_can_be_made_to_fail_in_a_time_ordered_table(project, default_params):
    x, y = economics()
    x = x.drop(columns="id")
    with pytest.raises(PipelineError) as error:
        validate_economics(project, default_params, x, y, drift="fail", max_out_of_range_share=0.5)
    message = str(error.value)
    assert message.startswith("validation failed (2 expectation(s)): [out_of_range]")
    assert "feature=pop, out_of_range_share=1.0" in message and "raise validate.max_out_of_range_share" in message
    assert "[drift] expect_column_values_to_be_in_set(column=drifted, value_set=[False])" in message
    assert "set validate.drift: report" in message
    assert_no_outputs(project)


def test_a_row_id_can_be_reported_instead(project, default_params):
    x, y = economics()
    metrics = validate_economics(project, default_params, x, y, time_index="report")
    assert metrics["success"] and metrics["time_index_columns"] == 1


def test_what_counts_as_a_column_encoding_the_time_order():
    n = 120
    rng = np.random.default_rng(0)
    day = pd.Series(pd.date_range("2024-01-01", periods=n, freq="D")[::-1])  # the file runs backwards in time
    counter = np.arange(n, 0, -1) * 5.0  # counts up in time, by 5
    x = pd.DataFrame({
        "day": day,
        "counter": counter,
        "id_with_gaps": np.delete(np.arange(n + 6), [3, 30, 33, 60, 90, 100])[::-1].astype(float),
        "population": 1000.0 + np.cumsum(rng.integers(1, 40, n))[::-1],  # whole, monotone, irregular steps
        "day_of_month": day.dt.day.astype(float),  # steps by 1 mostly, but falls back at each new month
        "spending": np.linspace(1, 2, n)[::-1] + rng.normal(0, 0.01, n),
        "constant": 3.0,
    })
    found = time_index_columns(x, [c for c in x.columns if c != "day"], "day").set_index("feature")
    assert found["encodes_time_order"].to_dict() == {"counter": True, "id_with_gaps": True, "population": False,
                                                     "day_of_month": False, "spending": False, "constant": False}
    assert found.loc["counter", ["step", "step_share"]].tolist() == [5.0, 1.0]
    assert found.loc["id_with_gaps", "step_share"] == pytest.approx(113 / 119)


def test_out_of_range_shares():
    values = [np.array([1.0, 2.0, 3.0, 0.5, 2.5, np.nan, 9.0, 2.0])]
    split = {"test": [6, 7], "development": [0, 1, 2, 3, 4, 5],
             "folds": [{"train": [0, 1, 2], "validation": [3, 4, 5]}]}
    shares = out_of_range(["x"], values, split).set_index(["fold", "split"])["out_of_range_share"]
    assert shares.to_dict() == {("0", "validation"): 0.5, ("final", "test"): 0.5}


def test_every_expectation_says_which_params_key_relaxes_it(default_params):
    settings = ValidateParams(**default_params["validate"])
    images, labels = digits_like()
    table, table_labels = clean_table()
    table["day"] = pd.date_range("2024-01-01", periods=len(table), freq="D")
    texts = np.array([f"review {i}" for i in range(len(labels))], dtype=object)
    sequences = Sequences.from_lists([[1, 2, i % 7 + 3] for i in range(len(labels))])
    cases = [
        ({"kind": "images", "problem": "classification", "example_shape": [8, 8]}, images, labels, (0, 16),
         list(range(10))),
        ({"kind": "sequences", "problem": "classification"}, sequences, labels, (0, 9), list(range(10))),
        ({"kind": "text", "problem": "classification"}, texts, labels, None, list(range(10))),
        ({"kind": "table", **table_details(["signal", "noise"], ["colour"], "day")}, table, table_labels, None, [0, 1]),
        ({"kind": "table", **table_details(["signal", "noise"], problem="regression")}, table, table_labels * 1.5,
         None, []),
    ]
    suites = set()
    for raw, x, y, value_range, classes in cases:
        split = holdout_split(y)
        for check in build_checks(raw, x, y, split, settings, value_range, classes, 0):
            suites.add(check.name)
            for expectation in check.expectations:
                assert re.search(r"\b(collect|validate|split)\.[a-z_]+", expectation.notes) or \
                    "no params key relaxes this" in expectation.notes, (check.name, expectation)
    assert suites == {"schema_and_ranges", "targets", "representativeness", "leakage", "arrow_of_time", "time_index",
                      "out_of_range", "target_leakage", "drift"}


def test_a_divergence_from_a_few_values_is_noise_not_drift():
    """Thirty filled values of one distribution on each side: the histograms differ, the samples do not."""
    from stages.lib.drift import split_drift as drift

    rng = np.random.default_rng(3)
    values = np.full(400, np.nan)
    values[rng.choice(400, 60, replace=False)] = rng.normal(50, 10, 60)
    split = {"development": list(range(300)), "test": list(range(300, 400)),
             "folds": [{"train": list(range(200)), "validation": list(range(200, 300))}]}
    frame = drift(["income"], [values], split, max_js_divergence=0.01)
    assert (frame["js_divergence"] > 0.01).any() and not frame["drifted"].any()
    values[300:] += 40  # the same few values, moved: now it is drift
    assert drift(["income"], [values], split, max_js_divergence=0.01)["drifted"].tolist() == [False, True]


def test_data_docs_pages_lose_their_random_ids_and_build_times(tmp_path):
    from stages.lib.validation import stabilize_docs

    def page(uuid_a, uuid_b, built, loaded):
        return (f'<img src="logo.png?d={built}"><a href="#body-{uuid_a}">x</a><div id=body-{uuid_a} class="c"></div>'
                f'<div id=other-{uuid_b} class="c"></div><span>{loaded}</span>'
                '<a href="validations/validate/20000101T000000.000000Z/page.html">run</a>'
                '<td>user-5f0c7a6e-93a1-4e0b-8c1d-2b3a4c5d6e7f</td>')  # a value from the data stays

    first, second = tmp_path / "a" / "p.html", tmp_path / "b" / "p.html"
    for path, args in ((first, ("0b6c2a3e-1f2d-4c5b-9a8e-7d6c5b4a3f21", "a8558ace-729a-4ff3-bc58-9319f48250b0",
                                "20261202T003717.107671Z", "20261202T003738.192567Z")),
                       (second, ("ef8c0202-0197-4d92-9c82-f588482ca08f", "11111111-2222-4333-8444-555555555555",
                                 "20261203T101010.000001Z", "20261203T101011.000002Z"))):
        path.parent.mkdir()
        path.write_text(page(*args))
        stabilize_docs(path.parent)
    assert first.read_text() == second.read_text()
    text = first.read_text()
    assert 'href="#body-id1"' in text and "id=body-id1" in text and "id=other-id2" in text  # links still match
    assert "20000101T000000.000000Z/page.html" in text and "2026" not in text
    assert "<td>user-5f0c7a6e-93a1-4e0b-8c1d-2b3a4c5d6e7f</td>" in text


def test_leakage_models_train_on_a_stated_sample_and_still_find_a_copied_label():
    from stages.lib.kinds.table import single_feature_scores

    x, y = clean_table(n=2000, seed=3)
    x["refund_issued"] = y * 10.0
    split = holdout_split(y)
    columns = {"numeric": ["signal", "noise", "refund_issued"], "categorical": ["colour"]}
    full = single_feature_scores(x, y, columns, split, "classification", 0)
    n_train, n_val = (len(split["folds"][0][k]) for k in ("train", "validation"))
    assert set(full["train_rows"]) == {f"{n_train} of {n_train}"}
    sampled = single_feature_scores(x, y, columns, split, "classification", 0, max_rows=300)
    assert set(sampled["train_rows"]) == {f"300 of {n_train}"} and set(sampled["validation_rows"]) == {f"300 of {n_val}"}
    scores = sampled.set_index("feature")["single_feature_score"]
    assert scores["refund_issued"] == 1.0 and scores["noise"] < 0.8
    again = single_feature_scores(x, y, columns, split, "classification", 0, max_rows=300)
    pd.testing.assert_frame_equal(sampled, again)  # seeded: the same sample every run


def test_classes_shifting_over_a_time_ordered_split_name_the_time_fix_not_stratification(project):
    x, y = clean_table()
    x["day"] = pd.date_range("2024-01-01", periods=len(y), freq="D")
    day = np.arange(len(y))
    y = ((day % 4 == 0) | ((day >= 150) & (day % 2 == 0))).astype(int)  # the share of 1 grows late
    order = np.arange(len(y))
    split = {"protocol": "holdout", "test": order[160:].tolist(), "development": order[:160].tolist(),
             "folds": [{"train": order[:120].tolist(), "validation": order[120:160].tolist()}]}
    with pytest.raises(PipelineError) as error:
        validate_table(project, x, y, split, numeric=["signal", "noise"], categorical=["colour"], time_column="day")
    assert "[representativeness] expect_column_values_to_be_between(column=gap" in str(error.value)
    assert "a time-ordered split cannot be stratified" in str(error.value)
    assert "keep split.shuffle" not in str(error.value)
    y_absent = ((day >= 150) | (day % 4 == 0)).astype(int)  # no 0 after day 150: the test split lacks class 0
    with pytest.raises(PipelineError, match=r"class=0, count=0.*a time-ordered split cannot be stratified; use fewer "
                                            r"split.folds or a larger split.test_fraction"):
        validate_table(project, x, y_absent, split, numeric=["signal", "noise"], categorical=["colour"],
                       time_column="day")


def test_a_non_finite_regression_target_is_named_by_its_first_example_and_count(project):
    x, labels = digits_like()
    y = labels.astype(np.float64)
    y[[7, 12]] = np.inf  # one row of the target summary stands for both
    with pytest.raises(PipelineError) as error:
        write_raw(project, x, y, details={"problem": "regression"})
        write_split(holdout_split(y), project)
        validate.main()
    message = str(error.value)
    assert "[targets] expect_column_values_to_be_in_set(column=finite" in message
    assert "first_example=7, examples=2, finite=False" in message and "\n" not in message
    assert_no_outputs(project)


def test_the_ks_p_value_is_scipy_s_computed_a_chunk_at_a_time(monkeypatch):
    from scipy.stats import ks_2samp

    from stages.lib import drift

    monkeypatch.setattr(drift, "KS_CHUNK", 1000)
    rng = np.random.default_rng(0)
    for reference, compared in [(rng.normal(size=30_000), rng.normal(0.03, 1, size=12_000)),
                                (rng.integers(0, 50, 20_000).astype(float), rng.integers(0, 52, 15_000).astype(float)),
                                (rng.normal(size=25_000), rng.normal(size=300)),  # ties and a small side
                                (rng.normal(size=500), rng.normal(0.2, 1, size=400))]:  # scipy's exact method
        assert drift.ks_p_value(reference, compared) == float(ks_2samp(reference, compared).pvalue)
    assert drift.ks_p_value(rng.normal(size=20_000), rng.normal(5, 1, size=20_000)) == 0.0


def test_split_overlaps_names_contents_found_in_two_splits_and_counts_the_rest():
    from stages.lib.validation import split_overlaps

    hashes = np.array([5, 5, 7, 9, 9, 11, 11, 13, 2, 2], dtype=np.uint64)  # rows 0..9
    split = {"test": np.array([0, 2]), "development": np.array([1, 3, 4, 5, 6, 7, 8, 9]),
             "folds": [{"train": np.array([1, 3, 5, 8]), "validation": np.array([4, 6, 7, 9])}]}
    frame = split_overlaps(hashes, split)
    shared = frame[frame["hash"].notna()]
    assert sorted(shared["n_splits"]) == [2, 2, 2, 2] and len(shared) == 4  # 5: test+train, 9, 11, 2: train+validation
    assert set(shared["splits"]) == {"test,train", "train,validation"}
    alone = frame[frame["hash"].isna()].set_index("splits")["contents"].to_dict()
    assert alone == {"test": 1, "validation": 1}  # 7 in test alone, 13 in validation alone; train has none
