"""Chapter 5 studies: variant construction, data changes and verdict logic, on small data."""
import numpy as np
import pandas as pd
import pytest

from stages.lib.errors import PipelineError
from stages.lib.params import StudiesParams
from stages.lib.studies import (
    add_channels,
    define_studies,
    mutual_information_mask,
    prepare_data,
    summary_markdown,
)

SETTINGS = StudiesParams(epochs=3, batch_size=16, optimizer="rmsprop", learning_rate=1e-3, units=[32],
                         capacity_small=[4], capacity_large=[64, 64], l1=1e-4, l2=2e-3, dropout=0.5, patience=2,
                         mi_threshold=0.05, accuracy_tolerance=0.01, chance_margin=0.05, overfit_tolerance=0.05)
STUDIES = define_studies(SETTINGS)


def curve(val_loss, loss=None, accuracy=None, val_accuracy=None, **extra):
    n = len(val_loss)
    frame = pd.DataFrame({"epoch": np.arange(1, n + 1), "loss": loss or list(np.linspace(1, 0.1, n)),
                          "accuracy": accuracy or [0.9] * n, "val_loss": val_loss,
                          "val_accuracy": val_accuracy or [0.8] * n, "val_cross_entropy": val_loss})
    return frame.assign(**extra)


FALLING, U_SHAPE = [1.0, 0.8, 0.6, 0.5, 0.45], [1.0, 0.5, 0.6, 0.8, 1.0]


def test_the_eight_studies_and_their_variants():
    assert list(STUDIES) == ["noise_channels", "capacity", "weight_regularization", "dropout", "early_stopping",
                             "random_labels", "learning_rate", "linear_capacity"]
    capacity = {v.name: v.units for v in STUDIES["capacity"].variants}
    assert capacity == {"small": (4,), "original": (32,), "large": (64, 64)}
    regularized = {v.name: (v.l1, v.l2) for v in STUDIES["weight_regularization"].variants}
    assert regularized == {"none": (0, 0), "l2": (0, 2e-3), "l1": (1e-4, 0), "l1_l2": (1e-4, 2e-3)}
    assert [v.learning_rate for v in STUDIES["learning_rate"].variants] == [1.0, 1e-2]
    assert STUDIES["linear_capacity"].variants[0].units == ()
    assert STUDIES["early_stopping"].variants[0].patience == 2


def test_channels_double_the_features():
    x = np.ones((5, 3), dtype=np.float32)
    rng = np.random.default_rng(0)
    noisy, zeros = add_channels(x, "noise", rng), add_channels(x, "zeros", rng)
    assert noisy.shape == zeros.shape == (5, 6) and noisy.dtype == np.float32
    assert not zeros[:, 3:].any() and 0 <= noisy[:, 3:].min() and noisy[:, 3:].max() < 1


def test_mutual_information_keeps_informative_features_only():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    x = np.column_stack([y + rng.normal(0, 0.1, 300), rng.random(300), rng.random(300)]).astype(np.float32)
    assert mutual_information_mask(x, y, 0.05, seed=0).tolist() == [True, False, False]


def test_prepare_data_variants():
    x, y = np.ones((20, 4), dtype=np.float32), np.arange(20) % 2
    variants = {v.name: v for v in STUDIES["noise_channels"].variants}
    (train_x, _), (val_x, _) = prepare_data(variants["noise_channels"], (x, y), (x, y), 0, 0.05)
    assert train_x.shape == val_x.shape == (20, 8)
    (_, shuffled), (_, kept) = prepare_data(STUDIES["random_labels"].variants[0], (x, y), (x, y), 0, 0.05)
    assert sorted(shuffled) == sorted(y) and not np.array_equal(shuffled, y) and np.array_equal(kept, y)
    from scipy.sparse import csr_matrix

    with pytest.raises(PipelineError, match="needs dense features"):
        prepare_data(variants["noise_channels"], (csr_matrix(x), y), (csr_matrix(x), y), 0, 0.05)


def verdict(name, histories, form="classification"):
    return STUDIES[name].verdict(histories, SETTINGS, form)


def test_noise_channels_verdict():
    held = verdict("noise_channels", {"noise_channels": curve(FALLING, val_accuracy=[0.9] * 5),
                                      "zero_channels": curve(FALLING, val_accuracy=[0.95] * 5),
                                      "mi_selected": curve(FALLING, val_accuracy=[0.945] * 5)})
    assert held["held"] and held["val_accuracy_noise"] == pytest.approx(0.9)
    assert not verdict("noise_channels", {"noise_channels": curve(FALLING, val_accuracy=[0.9] * 5),
                                          "zero_channels": curve(FALLING, val_accuracy=[0.95] * 5),
                                          "mi_selected": curve(FALLING, val_accuracy=[0.92] * 5)})["held"]


def test_capacity_verdict():
    histories = {"small": curve(FALLING), "original": curve([1, 0.6, 0.5, 0.55, 0.6]),
                 "large": curve([1, 0.4, 0.8, 0.5, 1.2])}
    result = verdict("capacity", histories)
    assert result["held"] and (result["best_epoch_small"], result["best_epoch_large"]) == (5, 2)
    histories["large"] = curve(FALLING)
    assert not verdict("capacity", histories)["held"]


def test_regularization_and_dropout_verdicts():
    assert verdict("weight_regularization", {"none": curve(U_SHAPE), "l2": curve(FALLING), "l1": curve(FALLING),
                                             "l1_l2": curve(FALLING)})["held"]
    assert not verdict("dropout", {"none": curve(FALLING), "dropout": curve(U_SHAPE)})["held"]


def test_early_stopping_verdict():
    stopped = curve([1.0, 0.5, 0.6, 0.7], restored_val_loss=0.5, patience=2)
    assert verdict("early_stopping", {"early_stopping": stopped, "no_stopping": curve(U_SHAPE * 2)})["held"]
    not_restored = curve([1.0, 0.5, 0.6, 0.7], restored_val_loss=0.7, patience=2)
    assert not verdict("early_stopping", {"early_stopping": not_restored, "no_stopping": curve(U_SHAPE * 2)})["held"]


def test_random_labels_verdict():
    memorizing = curve(U_SHAPE, loss=[2.3, 2.0, 1.5, 1.0, 0.5], val_accuracy=[0.1, 0.11, 0.09, 0.1, 0.12], chance=0.1)
    assert verdict("random_labels", {"random_labels": memorizing})["held"]
    learning = curve(FALLING, val_accuracy=[0.5] * 5, chance=0.1)
    assert not verdict("random_labels", {"random_labels": learning})["held"]


def test_learning_rate_verdict():
    stuck, training = curve(FALLING, accuracy=[0.3] * 5), curve(FALLING, accuracy=[0.95] * 5)
    assert verdict("learning_rate", {"rate_1.0": stuck, "rate_0.01": training})["held"]
    assert not verdict("learning_rate", {"rate_1.0": training, "rate_0.01": training})["held"]


def test_linear_capacity_verdict():
    result = verdict("linear_capacity", {"linear": curve(FALLING), "mlp": curve(U_SHAPE)})
    assert result["held"] and not result["linear_overfits"] and result["mlp_overfits"]
    assert not verdict("linear_capacity", {"linear": curve(U_SHAPE), "mlp": curve(U_SHAPE)})["held"]


def test_summary_table_reports_each_verdict_the_form_and_the_count_of_each():
    text = summary_markdown("digits", {
        "dropout": {"claim": "Dropout helps.", "form": "classification", "final_val_loss": 0.12345, "held": True},
        "capacity": {"claim": "Big overfits.", "form": "classification", "best_epoch_large": 3, "held": False}})
    assert "| dropout | Dropout helps. | final_val_loss 0.1235 | held |" in text
    assert "| capacity | Big overfits. | best_epoch_large 3 | **did not hold** |" in text
    assert "\nForm: classification: " in text and "\n1 held, 1 did not hold, 0 not applicable.\n" in text


def test_studies_stage_writes_every_study_s_curves_plot_and_verdict_and_the_summary(project, default_params,
                                                                                     monkeypatch):
    import json

    from stages import studies
    from stages.lib import paths
    from stages.lib.artifacts import write_features
    from stages.lib.io import write_json
    from stages.lib.task import define_task
    from tests.conftest import write_params

    rng = np.random.default_rng(0)
    for split, n in (("train", 80), ("validation", 40)):
        y = np.arange(n) % 3
        write_features(project / paths.features_file(split, 0), (rng.normal(size=(n, 5)) + y[:, None]).astype(np.float32), y)
    write_json(project / paths.FOLD_FEATURES_DIR / "0" / "preprocessing.json", {})  # vectorize's statistics: no index
    write_json(project / paths.TASK, define_task("x", "classification", {"0": 1, "1": 1, "2": 1}, 3.0).to_dict())
    default_params["studies"]["digits"].update(epochs=6, units=[8], capacity_large=[32, 32], patience=1)
    write_params(project, default_params)
    studies.main()
    verdict = json.loads((project / paths.study_metrics("early_stopping")).read_text())
    assert set(verdict) >= {"claim", "held", "best_epoch", "restored_val_loss", "min_val_loss"}
    curves = sorted(p.name for p in (project / paths.study_curves("early_stopping")).iterdir())
    assert curves == ["early_stopping.csv", "no_stopping.csv"]
    header = (project / paths.study_curves("early_stopping") / "no_stopping.csv").read_text().splitlines()[0]
    assert header == "epoch,loss,accuracy,cross_entropy,val_loss,val_accuracy,val_cross_entropy"
    for name in STUDIES:
        assert (project / paths.study_png(name)).stat().st_size > 0
        assert json.loads((project / paths.study_metrics(name)).read_text())["held"] in (True, False)
        assert json.loads((project / paths.study_metrics(name)).read_text())["form"] == "classification"
    summary = (project / paths.STUDIES_SUMMARY).read_text()
    rows = [line for line in summary.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + len(STUDIES) and "Form: classification: " in summary
    held = sum(row.endswith("| held |") for row in rows)
    assert f"\n{held} held, {len(STUDIES) - held} did not hold, 0 not applicable.\n" in summary
    assert set(json.loads((project / paths.ENVIRONMENT).read_text())["stages"]) == {"studies"}
    written = {path: path.read_bytes() for path in (project / "reports").rglob("*") if path.is_file()}
    monkeypatch.setenv("UWF_JOBS", "2")  # the studies side by side: the same bytes as one after another
    studies.main()
    assert {path: path.read_bytes() for path in (project / "reports").rglob("*") if path.is_file()} == written


def test_studies_that_change_features_are_not_applicable_to_sparse_text():
    from scipy.sparse import csr_matrix

    from stages.lib.studies import run_study, verdict_word
    from stages.lib.task import define_task

    x, y = csr_matrix(np.eye(6, dtype=np.float32)), np.arange(6) % 2
    task = define_task("x", "classification", {"0": 3, "1": 3}, 3.0)
    histories, result = run_study(STUDIES["noise_channels"], task, (x, y), (x, y), SETTINGS, 0)
    assert histories == {} and result["held"] is None and "sparse" in result["not_applicable"]
    assert result["form"] == "classification" and verdict_word(result) == "not applicable"
    assert "| noise_channels | c |" in summary_markdown("imdb", {"noise_channels": {**result, "claim": "c"}})
    assert "**not applicable** |" in summary_markdown("imdb", {"noise_channels": {**result, "claim": "c"}})
    dense = x.toarray()
    indexed = {"columns": ["code"], "positions": [5], "sizes": [3], "masked": [True]}
    histories, result = run_study(STUDIES["noise_channels"], task, (dense, y), (dense, y), SETTINGS, 0, indexed)
    assert histories == {} and result["not_applicable"].endswith("not indexed categories")


def test_a_study_runs_only_in_the_task_s_form():
    from stages.lib.studies import run_study
    from stages.lib.task import define_task

    x, y = np.zeros((4, 2), dtype=np.float32), np.arange(4.0)
    with pytest.raises(PipelineError, match="the classification form of study capacity cannot run on a regression"):
        run_study(STUDIES["capacity"], define_task("x", "regression", None, 3.0), (x, y), (x, y), SETTINGS, 0)


def test_each_dataset_has_its_study_sizes(default_params, tmp_path):
    from stages.lib.params import load_params
    from tests.conftest import with_changes, write_params

    write_params(tmp_path, with_changes(default_params, task={"dataset": "imdb"}))
    assert load_params(tmp_path / "params.yaml").study_settings.units == [16, 16]
    del default_params["studies"]["mnist"]
    write_params(tmp_path, with_changes(default_params, task={"dataset": "mnist"}))
    with pytest.raises(PipelineError, match="studies has no settings for task.dataset 'mnist'"):
        load_params(tmp_path / "params.yaml")


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_every_study_runs_on_a_binary_task(sparse):
    """A sigmoid's (n, 1) output against labels of shape (n,) used to stop every study on a binary task."""
    from scipy.sparse import csr_matrix

    from stages.lib.studies import run_study
    from stages.lib.task import define_task
    from stages.studies import CURVE_COLUMNS

    rng = np.random.default_rng(0)
    y = np.arange(40) % 2
    x = (rng.normal(size=(40, 6)) + y[:, None]).astype(np.float32)
    if sparse:  # multi-hot, as IMDB's and texts' features
        x = csr_matrix((x > 0.5).astype(np.float32))
    task = define_task("x", "classification", {"0": 20, "1": 20}, 3.0)
    tiny = SETTINGS.model_copy(update={"epochs": 2, "units": [4], "capacity_large": [8, 8]})
    for name, study in define_studies(tiny).items():
        histories, result = run_study(study, task, (x, y), (x, y), tiny, 0)
        if sparse and name == "noise_channels":
            assert histories == {} and result["held"] is None
            continue
        assert result["held"] is True or result["held"] is False, name  # np.True_ is not True
        assert set(histories) == {v.name for v in study.variants}
        for history in histories.values():
            assert set(CURVE_COLUMNS["classification"]) <= set(history.columns) and 1 <= len(history) <= 2
            assert history["val_cross_entropy"].notna().all()


def test_mutual_information_keeps_the_most_informative_half_when_none_passes_the_threshold():
    rng = np.random.default_rng(0)
    y = (rng.random(600) < 0.05).astype(int)  # about one in twenty: little information in any feature
    informative = y + rng.normal(0, 1.5, 600)
    x = np.column_stack([informative, rng.normal(size=600), rng.normal(size=600), rng.normal(size=600)])
    keep = mutual_information_mask(x, y, 0.5, seed=0)
    assert keep.sum() == 2 and keep[0]


# ---- the regression forms ---------------------------------------------------------------------

REGRESSION = define_studies(SETTINGS, "regression")


def regression_curve(val_loss, val_mae=None, loss=None, mae=None, **extra):
    n = len(val_loss)
    frame = pd.DataFrame({"epoch": np.arange(1, n + 1), "loss": loss or list(np.linspace(1, 0.1, n)),
                          "mae": mae or [0.5] * n, "val_loss": val_loss, "val_mae": val_mae or [0.6] * n})
    return frame.assign(**extra)


def regression_verdict(name, histories):
    return REGRESSION[name].verdict(histories, SETTINGS, "regression")


def test_the_regression_forms_have_the_same_variants_and_say_what_they_read():
    assert list(REGRESSION) == list(STUDIES) and {s.form for s in REGRESSION.values()} == {"regression"}
    assert all(REGRESSION[name].variants == STUDIES[name].variants for name in STUDIES)
    assert "higher validation MAE" in REGRESSION["noise_channels"].claim and "5%" in REGRESSION["noise_channels"].claim
    assert all("mean predictor" in REGRESSION[name].claim for name in ("random_labels", "learning_rate"))
    assert STUDIES["dropout"].claim == "Dropout ends with a lower validation loss than none."  # the book's wording


def test_mutual_information_on_a_regression_target():
    rng = np.random.default_rng(0)
    x = rng.random((300, 3)).astype(np.float32)
    y = 100 * x[:, 0] + rng.normal(0, 1, 300)  # continuous: mutual_info_classif refuses it
    assert mutual_information_mask(x, y, 0.05, seed=0, regression=True).tolist() == [True, False, False]
    selected = {v.name: v for v in REGRESSION["noise_channels"].variants}["mi_selected"]
    (train_x, _), (val_x, _) = prepare_data(selected, (x, y), (x, y), 0, 0.05, regression=True)
    assert train_x.shape == val_x.shape == (300, 1) and np.array_equal(train_x[:, 0], x[:, 0])


def test_noise_channels_regression_verdict_reads_the_validation_mae():
    def histories(noise, zeros, selected):
        return {"noise_channels": regression_curve(FALLING, val_mae=[noise] * 5),
                "zero_channels": regression_curve(FALLING, val_mae=[zeros] * 5),
                "mi_selected": regression_curve(FALLING, val_mae=[selected] * 5)}

    held = regression_verdict("noise_channels", histories(12.0, 10.0, 10.4))  # 4% above zeros: recovered
    assert held["held"] and held["val_mae_noise"] == pytest.approx(12.0)
    assert not regression_verdict("noise_channels", histories(12.0, 10.0, 10.6))["held"]  # 6% above: not
    assert not regression_verdict("noise_channels", histories(9.0, 10.0, 10.0))["held"]  # noise did not hurt


def test_regularization_dropout_and_linear_capacity_regression_verdicts_leave_the_penalties_out():
    penalized = regression_curve([2.0] * 5, val_mae=[9.0] * 5)  # a higher loss (the penalty in it), a lower MAE
    result = regression_verdict("weight_regularization", {"none": regression_curve([1.0] * 5, val_mae=[10.0] * 5),
                                                         "l2": penalized, "l1": penalized, "l1_l2": penalized})
    assert result["held"] and result["final_val_mae_l2"] == pytest.approx(9.0)
    assert not regression_verdict("dropout", {"none": regression_curve([1.0] * 5, val_mae=[10.0] * 5),
                                              "dropout": regression_curve([0.5] * 5, val_mae=[11.0] * 5)})["held"]
    result = regression_verdict("linear_capacity", {"linear": regression_curve(FALLING, val_mae=FALLING),
                                                    "mlp": regression_curve(FALLING, val_mae=U_SHAPE)})
    assert result["held"] and result["mlp_overfits"] and "final_train_mae_mlp" in result
    assert not regression_verdict("linear_capacity", {"linear": regression_curve(FALLING, val_mae=U_SHAPE),
                                                      "mlp": regression_curve(FALLING, val_mae=U_SHAPE)})["held"]


def test_early_stopping_regression_verdict_allows_a_share_of_the_loss():
    """A loss in a price's units squared: float32 rounding is more than 1e-4 outright, far less than 1e-4 of it."""
    def histories(restored):
        stopped = regression_curve([3e9, 1e9, 1.1e9, 1.2e9], restored_val_loss=restored, patience=2)
        return {"early_stopping": stopped, "no_stopping": regression_curve([3e9, 1e9, 1.1e9, 1.2e9, 1.3e9, 1.4e9])}

    assert regression_verdict("early_stopping", histories(1e9 + 50))["held"]
    assert not verdict("early_stopping", histories(1e9 + 50))["held"]  # the classification form's 1e-4 outright
    assert not regression_verdict("early_stopping", histories(1.01e9))["held"]


def test_random_labels_regression_verdict():
    memorizing = regression_curve(U_SHAPE, loss=[2.3, 2.0, 1.5, 1.0, 0.5], val_mae=[10.0, 10.5, 11.0, 11.0, 12.0],
                                  val_chance=10.0, chance=9.8)
    result = regression_verdict("random_labels", {"random_labels": memorizing})
    assert result["held"] and result["mean_predictor_val_mae"] == 10.0
    learning = memorizing.assign(val_mae=[6.0] * 5)  # beats the mean predictor: the targets were not shuffled
    assert not regression_verdict("random_labels", {"random_labels": learning})["held"]
    not_falling = memorizing.assign(loss=[1.0, 1.2, 1.4, 1.6, 1.8])
    assert not regression_verdict("random_labels", {"random_labels": not_falling})["held"]


def test_learning_rate_regression_verdict():
    def run(mae):
        return regression_curve(FALLING, mae=[mae] * 5, chance=10.0)

    assert regression_verdict("learning_rate", {"rate_1.0": run(100.0), "rate_0.01": run(3.0)})["held"]
    assert regression_verdict("learning_rate", {"rate_1.0": run(float("nan")), "rate_0.01": run(3.0)})["held"]
    assert not regression_verdict("learning_rate", {"rate_1.0": run(3.0), "rate_0.01": run(3.0)})["held"]
    assert not regression_verdict("learning_rate", {"rate_1.0": run(100.0), "rate_0.01": run(9.8)})["held"]


def test_summary_reports_a_regression_claim_that_did_not_hold_and_one_not_applicable():
    text = summary_markdown("table", {
        "dropout": {"claim": "c", "form": "regression", "final_val_mae_none": 1.0, "final_val_mae_dropout": 2.0,
                    "held": False},
        "noise_channels": {"claim": "n", "form": "regression", "held": None, "not_applicable": "sparse"}})
    assert "| dropout | c | final_val_mae_none 1.0000, final_val_mae_dropout 2.0000 | **did not hold** |" in text
    assert "| noise_channels | n | not_applicable sparse | **not applicable** |" in text
    assert "\nForm: regression: the validation MAE" in text and "\n0 held, 1 did not hold, 1 not applicable.\n" in text


def test_studies_stage_runs_every_study_s_regression_form(project, default_params, capsys):
    import json

    from scipy.sparse import csr_matrix

    from stages import studies
    from stages.lib import paths
    from stages.lib.artifacts import write_features
    from stages.lib.io import write_json
    from stages.lib.studies import run_study
    from stages.lib.task import define_task
    from tests.conftest import write_params

    rng = np.random.default_rng(0)
    for split, n in (("train", 80), ("validation", 40)):
        x = rng.normal(size=(n, 5)).astype(np.float32)
        write_features(project / paths.features_file(split, 0), x, 300 + 50 * x[:, 0] + 20 * x[:, 1] ** 2)
    write_json(project / paths.FOLD_FEATURES_DIR / "0" / "preprocessing.json", {})
    task = define_task("x", "regression", None, 3.0)
    write_json(project / paths.TASK, task.to_dict())
    default_params["studies"]["digits"].update(epochs=4, units=[8], capacity_small=[2], capacity_large=[16, 16],
                                               patience=1)
    write_params(project, default_params)
    studies.main()
    for name, study in REGRESSION.items():
        verdict = json.loads((project / paths.study_metrics(name)).read_text())
        assert verdict["form"] == "regression" and verdict["held"] in (True, False), name
        assert (project / paths.study_png(name)).stat().st_size > 0
        for variant in study.variants:
            header = (project / paths.study_curves(name) / f"{variant.name}.csv").read_text().splitlines()[0]
            assert header == "epoch,loss,mae,val_loss,val_mae"
    assert "final_val_mae_none" in json.loads((project / paths.study_metrics("dropout")).read_text())
    summary = (project / paths.STUDIES_SUMMARY).read_text()
    rows = [line for line in summary.splitlines() if line.startswith("| ") and not line.startswith("| study")]
    held = sum(row.endswith("| held |") for row in rows)
    assert len(rows) == 8 and "Form: regression: " in summary
    assert f"\n{held} held, {8 - held} did not hold, 0 not applicable.\n" in summary
    assert f"studies: {held} held, {8 - held} did not hold, 0 not applicable on digits (regression form)" in \
        capsys.readouterr().out
    # Sparse features (a text regression): only the studies that change the features cannot run, and say why.
    x = csr_matrix(np.eye(6, dtype=np.float32))
    histories, result = run_study(REGRESSION["noise_channels"], task, (x, np.arange(6.0)), (x, np.arange(6.0)),
                                  SETTINGS, 0)
    assert histories == {} and result["form"] == "regression" and "sparse" in result["not_applicable"]


def test_the_model_card_shows_each_study_s_form_and_why_one_could_not_run(tmp_path):
    from stages.lib import paths
    from stages.lib.io import write_json
    from tests.test_model_card import card, write_reports

    write_reports(tmp_path, kind="table", problem="regression")
    write_json(tmp_path / paths.study_metrics("dropout"), {"claim": REGRESSION["dropout"].claim, "form": "regression",
                                                          "final_val_mae_none": 1.0, "held": False})
    write_json(tmp_path / paths.study_metrics("noise_channels"), {"claim": "n", "form": "regression", "held": None,
                                                                 "not_applicable": "it needs dense features"})
    page = card(tmp_path)
    assert ("<tr><td>dropout</td><td>regression</td><td>Dropout ends with a lower validation MAE than none.</td>"
            "<td>did not hold</td></tr>") in page
    assert "<td>noise_channels</td><td>regression</td><td>n</td><td>not applicable: it needs dense features" in page


# ---- the sample (studies.<dataset>.max_examples) ---------------------------------------------------------------

def numbered(y, sparse=False):
    """(x, y) whose first column is each row's index and second its label, so a sample shows which rows it took."""
    y = np.asarray(y)
    x = np.column_stack([np.arange(len(y)), y]).astype(np.float32)
    if sparse:
        from scipy.sparse import csr_matrix

        x = csr_matrix(x)
    return x, y


def rows_of(x) -> np.ndarray:
    return np.asarray(x.toarray() if hasattr(x, "toarray") else x)


def shuffled_labels(counts, seed=0):
    labels = np.repeat(np.arange(len(counts)), counts)
    return np.random.default_rng(seed).permutation(labels)


@pytest.mark.parametrize("max_examples", [None, 1000, 1001, 10**9])
def test_the_studies_keep_both_splits_untouched_when_the_training_split_is_not_larger(max_examples):
    from stages.lib.studies import sample_for_studies

    train, validation = numbered(shuffled_labels([600, 400])), numbered(shuffled_labels([120, 80]))
    got_train, got_validation, sample = sample_for_studies(train, validation, max_examples, 0)
    assert got_train is train and got_validation is validation and sample is None


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_a_larger_training_split_is_cut_to_a_stratified_sample_and_validation_to_the_same_share(sparse):
    from scipy.sparse import issparse

    from stages.lib.studies import sample_for_studies

    y_train, y_val = shuffled_labels([500, 300, 200, 7], seed=1), shuffled_labels([101, 60, 40, 3], seed=2)
    (x_t, y_t), (x_v, y_v), sample = sample_for_studies(numbered(y_train, sparse), numbered(y_val, sparse), 333, 0,
                                                        key="studies.table.max_examples")
    assert sample == {"examples": 333, "sampled_from": 1007, "validation_examples": 68,  # ceil(204 * 333 / 1007)
                      "validation_sampled_from": 204, "stratified": True, "key": "studies.table.max_examples"}
    assert issparse(x_t) == sparse and issparse(x_v) == sparse
    for x, y, original, size in ((x_t, y_t, y_train, 333), (x_v, y_v, y_val, 68)):
        rows = rows_of(x)
        assert x.shape == (size, 2) and len(y) == size
        taken = rows[:, 0].astype(int)
        assert np.all(np.diff(taken) > 0)  # distinct rows, in their original order
        assert np.array_equal(rows[:, 1], original[taken]) and np.array_equal(y, original[taken])  # x and y together
        expected = np.bincount(original) * size / len(original)
        assert np.all(np.abs(np.bincount(y, minlength=len(expected)) - expected) < 1)  # within one example per class


def test_the_sample_is_seeded():
    from stages.lib.splitting import sample_indices
    from stages.lib.studies import sample_for_studies

    y = shuffled_labels([300, 300])
    first, again = (sample_for_studies(numbered(y), numbered(y[:100]), 100, 7)[0][1] for _ in range(2))
    assert np.array_equal(first, again)
    assert np.array_equal(sample_indices(y, 100, 7, True)[0], sample_indices(y, 100, 7, True)[0])
    assert not np.array_equal(sample_indices(y, 100, 7, True)[0], sample_indices(y, 100, 8, True)[0])
    taken = [rows_of(sample_for_studies(numbered(y), numbered(y[:100]), 100, seed)[0][0])[:, 0] for seed in (7, 8)]
    assert not np.array_equal(*taken)


def test_a_regression_sample_is_plain_random_and_says_so():
    from stages.lib.studies import sample_for_studies, sample_sentence

    # A target of two values, 10% of them 1.0: a stratified sample of 100 would always hold exactly 10 of them.
    y = np.random.default_rng(0).permutation(np.repeat([0.0, 1.0], [900, 100]))
    shares = []
    for seed in range(20):
        (_, y_t), (_, y_v), sample = sample_for_studies(numbered(y), numbered(y[:300]), 100, seed, regression=True)
        assert len(y_t) == 100 and len(y_v) == 30 and sample["stratified"] is False
        shares.append(int((y_t == 1.0).sum()))
    assert any(abs(ones - 10) > 1 for ones in shares)  # not stratified
    text = sample_sentence(sample, regression=True)
    assert text.startswith("The studies ran on a seeded, random sample of 100 of the 1,000 training examples")
    assert "stratified" not in text


@pytest.mark.parametrize("rare_in", ["train", "validation"])
def test_a_class_too_rare_to_stratify_falls_back_to_a_random_sample_and_says_so(rare_in):
    from stages.lib.splitting import can_stratify
    from stages.lib.studies import sample_for_studies, sample_sentence

    common, rare = shuffled_labels([500, 500]), np.append(shuffled_labels([500, 499]), 2)  # class 2: one example
    y_train, y_val = (rare, common[:200]) if rare_in == "train" else (common, np.append(common[:199], 2))
    assert not can_stratify(rare, 100) and can_stratify(common, 100)
    (_, y_t), (_, y_v), sample = sample_for_studies(numbered(y_train), numbered(y_val), 100, 0)
    assert len(y_t) == 100 and len(y_v) == 20 and sample["stratified"] is False
    assert ("a seeded, random (not stratified: a class, or the sample, is too small to stratify) sample of 100 of the 1,000 "
            "training examples") in sample_sentence(sample)


SAMPLE = {"examples": 50000, "sampled_from": 1234567, "validation_examples": 12346, "validation_sampled_from": 308642,
          "stratified": True, "key": "studies.table.max_examples"}


def test_the_summary_names_the_sample_the_studies_ran_on_and_does_not_measure_it():
    verdicts = {"dropout": {"claim": "Dropout helps.", "form": "classification", "final_val_loss": 0.12345,
                            "held": True, "sample": SAMPLE},
                "capacity": {"claim": "Big overfits.", "form": "classification", "best_epoch_large": 3, "held": False,
                             "sample": SAMPLE}}
    text = summary_markdown("table", verdicts)
    sentence = ("The studies ran on a seeded, stratified sample of 50,000 of the 1,234,567 training examples, "
                "validated on 12,346 of the 308,642 validation examples (studies.table.max_examples).")
    assert f"\n{sentence}\n" in text and text.count("The studies ran on") == 1
    assert "| dropout | Dropout helps. | final_val_loss 0.1235 | held |" in text
    assert "| capacity | Big overfits. | best_epoch_large 3 | **did not hold** |" in text
    assert "examples" not in text.split(sentence)[1] and "sample {" not in text  # not among the measured numbers
    regression = {name: {**verdict, "form": "regression", "sample": {**SAMPLE, "stratified": False}}
                  for name, verdict in verdicts.items()}
    assert "a seeded, random sample of 50,000" in summary_markdown("table", regression)
    unsampled = {name: {k: v for k, v in verdict.items() if k != "sample"} for name, verdict in verdicts.items()}
    assert "sample" not in summary_markdown("table", unsampled)


def test_each_study_s_verdict_records_the_sample_it_ran_on(project, monkeypatch):
    from stages import studies
    from stages.lib import paths
    from stages.lib.artifacts import write_features
    from stages.lib.io import write_json
    from stages.lib.task import define_task

    for split, n in (("train", 120), ("validation", 30)):
        write_features(project / paths.features_file(split, 0), *numbered(np.arange(n) % 3))
    write_json(project / paths.FOLD_FEATURES_DIR / "0" / "preprocessing.json", {})
    seen = []

    def fake_run_study(study, task, train, validation, settings, seed, indexed=None):
        seen.append((len(train[1]), len(validation[1])))
        return {}, {"claim": study.claim, "form": study.form, "held": True}

    monkeypatch.setattr(studies, "run_study", fake_run_study)
    task = define_task("x", "classification", {"0": 1, "1": 1, "2": 1}, 3.0)
    _, verdict = studies.run_named_study("dropout", task, SETTINGS.model_copy(update={"max_examples": 60}), 0, "table")
    assert seen == [(60, 15)]
    assert verdict["sample"] == {"examples": 60, "sampled_from": 120, "validation_examples": 15,
                                 "validation_sampled_from": 30, "stratified": True, "key": "studies.table.max_examples"}
    _, verdict = studies.run_named_study("dropout", task, SETTINGS, 0, "table")  # max_examples null: every example
    assert seen[-1] == (120, 30) and "sample" not in verdict
