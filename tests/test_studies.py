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


def verdict(name, histories):
    return STUDIES[name].verdict(histories, SETTINGS)


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


def test_summary_table_reports_each_verdict():
    text = summary_markdown("digits", {"dropout": {"claim": "Dropout helps.", "final_val_loss": 0.12345, "held": True},
                                       "capacity": {"claim": "Big overfits.", "best_epoch_large": 3, "held": False}})
    assert "| dropout | Dropout helps. | final_val_loss 0.1235 | held |" in text
    assert "| capacity | Big overfits. | best_epoch_large 3 | **did not hold** |" in text


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
    rows = [line for line in (project / paths.STUDIES_SUMMARY).read_text().splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + len(STUDIES)
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
    assert verdict_word(result) == "not applicable"
    assert "| noise_channels | c |" in summary_markdown("imdb", {"noise_channels": {**result, "claim": "c"}})
    assert "**not applicable** |" in summary_markdown("imdb", {"noise_channels": {**result, "claim": "c"}})


def test_no_study_applies_to_regression():
    from stages.lib.studies import run_study
    from stages.lib.task import define_task

    x, y = np.zeros((4, 2), dtype=np.float32), np.arange(4.0)
    histories, result = run_study(STUDIES["capacity"], define_task("x", "regression", None, 3.0), (x, y), (x, y),
                                  SETTINGS, 0)
    assert histories == {} and result["held"] is None and "classifiers" in result["not_applicable"]


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
            assert set(CURVE_COLUMNS) <= set(history.columns) and 1 <= len(history) <= 2
            assert history["val_cross_entropy"].notna().all()


def test_mutual_information_keeps_the_most_informative_half_when_none_passes_the_threshold():
    rng = np.random.default_rng(0)
    y = (rng.random(600) < 0.05).astype(int)  # about one in twenty: little information in any feature
    informative = y + rng.normal(0, 1.5, 600)
    x = np.column_stack([informative, rng.normal(size=600), rng.normal(size=600), rng.normal(size=600)])
    keep = mutual_information_mask(x, y, 0.5, seed=0)
    assert keep.sum() == 2 and keep[0]
