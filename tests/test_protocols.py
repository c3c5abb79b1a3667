"""Every evaluation protocol end to end on a small table, in-process with tiny models: folds
everywhere, mean and spread across them, selection on validation, the test split left to evaluate."""
import json

import numpy as np
import pandas as pd
import pytest

from stages import baseline, collect, define_task, evaluate, overfit, regularize, split, validate, vectorize
from stages.lib import artifacts, paths
from stages.lib.errors import PipelineError
from stages.lib.splitting import read_split
from tests.conftest import with_changes, write_params

WORKFLOW = (collect, define_task, split, validate, vectorize, baseline, overfit, regularize, evaluate)


def customers(n=150, minority_every=2, seed=0) -> pd.DataFrame:
    """A learnable table with numeric gaps and a categorical column."""
    rng = np.random.default_rng(seed)
    label = (np.arange(n) % minority_every == 0).astype(int)
    frame = pd.DataFrame({
        "tenure": label * 2.0 + rng.normal(0, 1, n),
        "spend": rng.normal(50, 10, n) - 8 * label,
        "plan": rng.choice(["basic", "pro"], n),
        "left": np.where(label == 1, "yes", "no"),
    })
    frame.loc[rng.random(n) < 0.1, "spend"] = np.nan
    return frame


def tiny_training(params: dict, epochs: int = 4, learning_rate: float = 0.001, **split_changes) -> dict:
    # Tiny models on a few dozen test rows: a significance test against the baseline is out of reach here.
    params = with_changes(params, task={"dataset": "table"}, split=split_changes,
                          evaluate={"min_skill_over_baseline": 0.1, "significance": 1.0})
    params["overfit"].update(units=[16], epochs=epochs, batch_size=32, learning_rate=learning_rate)
    params["regularize"].update(epochs=epochs + 2, batch_size=32, learning_rate=learning_rate, candidates=[
        {"name": "small", "units": [4]}, {"name": "l2", "units": [16], "l2": 0.001, "early_stopping_patience": 2}])
    return params


def run_workflow(project, default_params, frame, target="left", monkeypatch=None, **changes):
    frame.to_csv(project / "customers.csv", index=False)
    params = tiny_training(default_params, **changes)
    params["collect"]["table"].update(path="customers.csv", target=target)
    write_params(project, params)
    reads = {}
    if monkeypatch:
        original = artifacts.read_features

        def recording(name, fold=None):
            reads.setdefault(current[0], set()).add(name)
            return original(name, fold)

        current = [None]
        for module in WORKFLOW:
            if hasattr(module, "read_features"):
                monkeypatch.setattr(module, "read_features", recording)
    for stage in WORKFLOW:
        if monkeypatch:
            current[0] = stage.__name__.split(".")[-1]
        stage.main()
    return reads


def metrics(project, path):
    return json.loads((project / path).read_text())


@pytest.mark.parametrize("protocol, folds", [("holdout", 1), ("kfold", 3), ("iterated_kfold", 6)])
def test_each_protocol_reports_mean_and_spread_and_keeps_the_test_split_for_evaluate(
        project, default_params, monkeypatch, protocol, folds):
    reads = run_workflow(project, default_params, customers(), monkeypatch=monkeypatch,
                         protocol=protocol, folds=3, repeats=2)
    assert read_split(project)["protocol"] == protocol
    assert len(list((project / paths.FOLD_FEATURES_DIR).iterdir())) == folds
    chosen = metrics(project, paths.REGULARIZE_METRICS)
    assert chosen["folds"] == folds and set(chosen["selected"]) >= {"val_accuracy_mean", "val_accuracy_std"}
    assert (chosen["selected"]["val_accuracy_std"] > 0) == (folds > 1)
    assert metrics(project, paths.OVERFIT_METRICS)["folds"] == folds
    assert set(metrics(project, paths.BASELINE_METRICS)["most_frequent"]) == {
        "validation_mean", "validation_std", "validation_ci_low", "validation_ci_high"}
    # an interval on the cross-validated score: Student's t over several folds, a bootstrap over one
    selected = chosen["selected"]
    assert selected["val_accuracy_ci_low"] <= selected["val_accuracy_mean"] <= selected["val_accuracy_ci_high"]
    assert selected["val_accuracy_ci_low"] < selected["val_accuracy_ci_high"]
    result = metrics(project, paths.EVALUATE_METRICS)
    assert result["test_accuracy"] > 0.6 and "validation_accuracy_std" in result
    assert result["validation_accuracy_ci_low"] == selected["val_accuracy_ci_low"]
    assert result["baseline"]["test_accuracy"] == pytest.approx(0.5, abs=0.05)
    # Model selection saw validation folds only; the test split was read by evaluate alone.
    assert reads["regularize"] == {"train", "validation", "development"}
    assert all("test" not in names for stage, names in reads.items() if stage != "evaluate")
    assert "test" in reads["evaluate"]


def test_small_data_defaults_to_iterated_kfold(project, default_params):
    run_workflow(project, default_params, customers(), protocol="auto", folds=2, repeats=2)
    assert read_split(project)["protocol"] == "iterated_kfold"
    assert metrics(project, paths.REGULARIZE_METRICS)["folds"] == 4


def test_imbalanced_classes_switch_to_pr_auc_and_the_positive_rate_baseline(project, default_params):
    run_workflow(project, default_params, customers(200, minority_every=6), protocol="holdout")
    task = metrics(project, paths.TASK)
    assert (task["primary_metric"], task["baseline"], task["positive_class"]) == ("pr_auc", "prior", 1)
    baselines = metrics(project, paths.BASELINE_METRICS)
    assert list(baselines)[0] == "prior"
    assert baselines["prior"]["validation_mean"]["pr_auc"] == pytest.approx(1 / 6, abs=0.05)
    result = metrics(project, paths.EVALUATE_METRICS)
    assert result["test_pr_auc"] > result["baseline"]["test_pr_auc"]
    assert "validation_pr_auc_mean" in result and result["skill_over_baseline"] >= 0.1


def test_regression_end_to_end(project, default_params):
    frame = customers().drop(columns="left")
    frame["monthly_bill"] = 20 + 5 * frame["tenure"] + np.random.default_rng(1).normal(0, 1, len(frame))
    run_workflow(project, default_params, frame, target="monthly_bill", protocol="kfold", folds=3, epochs=15,
                 learning_rate=0.05)
    task = metrics(project, paths.TASK)
    assert (task["last_layer_activation"], task["loss"], task["primary_metric"]) == (None, "mse", "mae")
    assert list(metrics(project, paths.BASELINE_METRICS)) == ["mean", "median"]
    result = metrics(project, paths.EVALUATE_METRICS)
    assert result["test_mae"] < result["baseline"]["test_mae"] and "test_r2" in result
    assert "validation_mae_std" in result
    history = pd.read_csv(project / paths.REGULARIZED_HISTORY)
    assert {"mae", "val_mae"} <= set(history.columns)


def test_a_time_column_orders_the_split_and_validation_checks_the_arrow_of_time(project, default_params):
    frame = customers(120)
    frame["signed_up"] = pd.date_range("2023-01-01", periods=120, freq="D").strftime("%Y-%m-%d")[::-1]
    frame.to_csv(project / "customers.csv", index=False)
    params = tiny_training(default_params, protocol="auto", folds=3)
    params["collect"]["table"].update(path="customers.csv", target="left", time_column="signed_up")
    write_params(project, params)
    for stage in WORKFLOW:
        stage.main()
    split_file = read_split(project)
    assert (split_file["protocol"], split_file["time_ordered"], len(split_file["folds"])) == ("kfold", True, 3)
    results = {r["suite"]: r for r in metrics(project, paths.VALIDATION_RESULTS)}
    assert results["arrow_of_time"]["success"] and results["time_index"]["success"]
    # Past and future may differ: drift and values beyond the training range are reported, not enforced.
    assert results["drift"]["severity"] == results["out_of_range"]["severity"] == "warning"
    validation = metrics(project, paths.VALIDATION)
    assert validation["success"] and validation["time_index_columns"] == 0 and "max_out_of_range_share" in validation
    assert "signed_up" not in metrics(project, paths.PREPROCESSING)["numeric"] + \
        metrics(project, paths.PREPROCESSING)["categorical"]  # a time orders the data; it is not a feature


def test_a_customer_number_issued_in_signup_order_is_left_out_or_stops_validation(project, default_params):
    frame = customers(120)
    frame["signed_up"] = pd.date_range("2023-01-01", periods=120, freq="D").strftime("%Y-%m-%d")[::-1]
    frame["customer_number"] = np.arange(120, 0, -1) + 1000  # the file runs backwards in time
    frame.to_csv(project / "customers.csv", index=False)
    params = tiny_training(default_params, protocol="auto", folds=3)
    params["collect"]["table"].update(path="customers.csv", target="left", time_column="signed_up")
    for exclude in ("auto", []):
        params["collect"]["table"]["exclude"] = exclude
        write_params(project, params)
        collect.main()
        split.main()
        if exclude == "auto":  # collect leaves the counter out of the features
            validate.main()
            assert metrics(project, paths.VALIDATION)["time_index_columns"] == 0
            continue
        with pytest.raises(PipelineError, match=r"^validation failed \(1 expectation\(s\)\): \[time_index\] .* "
                           r"failed for feature=customer_number, step=1.0, step_share=1.0, .*"
                           r"exclude it with collect.table.exclude"):
            validate.main()
