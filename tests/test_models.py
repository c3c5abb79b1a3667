import numpy as np
import pandas as pd
import pytest

from stages.lib.models import best_epoch, diagnose, final_epochs, mean_history, select_candidate, stopping_metric
from tests.conftest import classification_task


def history(loss, val_loss, accuracy=None):
    n = len(loss)
    return pd.DataFrame({"epoch": np.arange(1, n + 1), "loss": loss, "accuracy": accuracy or [0.9] * n,
                         "val_loss": val_loss, "val_accuracy": [0.8] * n})


def test_diagnose_overfitting_curve():
    d = diagnose(history([1.0, 0.5, 0.2, 0.1, 0.05], [0.9, 0.6, 0.5, 0.7, 0.9]), 0.1, 0.1)
    assert d["best_val_loss_epoch"] == 3 and d["overfit"] and not d["training_failed"]


def test_diagnose_still_improving_is_not_overfit():
    d = diagnose(history([1.0, 0.5, 0.3], [0.9, 0.6, 0.5]), 0.1, 0.1)
    assert d["best_val_loss_epoch"] == 3 and not d["overfit"]


def test_diagnose_stuck_training():
    assert diagnose(history([2.3, 2.4, 2.35], [2.3, 2.3, 2.3]), 0.1, 0.1)["training_failed"]
    assert diagnose(history([2.3, 2.2, 2.1], [2.3, 2.3, 2.3], [0.1, 0.12, 0.13]), 0.1, 0.1)["training_failed"]


def test_diagnose_regression_against_the_mean_predictor():
    curve = pd.DataFrame({"epoch": [1, 2, 3], "loss": [900.0, 400.0, 100.0], "mae": [30.0, 20.0, 8.0],
                          "val_loss": [950.0, 500.0, 300.0], "val_mae": [31.0, 22.0, 15.0]})
    d = diagnose(curve, 0.1, chance=30.0, metric="mae", greater_is_better=False)
    assert d["best_val_mae"] == 15.0 and not d["training_failed"]
    assert diagnose(curve.assign(mae=[30.0, 29.5, 29.0]), 0.1, 30.0, "mae", False)["training_failed"]


def test_selection_uses_metric_then_tie_breaker():
    results = {"a": {"val_accuracy": 0.9, "val_log_loss": 0.3}, "b": {"val_accuracy": 0.95, "val_log_loss": 0.5},
               "c": {"val_accuracy": 0.95, "val_log_loss": 0.4}}
    assert select_candidate(results, "val_accuracy", True, "val_log_loss") == "c"
    errors = {"a": {"val_mae": 3.0, "val_mse": 9.0}, "b": {"val_mae": 2.0, "val_mse": 5.0}}
    assert select_candidate(errors, "val_mae", False, "val_mse") == "b"


def test_fold_histories_average_per_epoch_over_the_folds_that_reached_it():
    first = pd.DataFrame({"epoch": [1, 2, 3], "loss": [3.0, 2.0, 1.0]})
    second = pd.DataFrame({"epoch": [1, 2], "loss": [5.0, 4.0]})
    assert mean_history([first, second])["loss"].tolist() == [4.0, 3.0, 1.0]


def test_final_model_trains_for_the_median_best_epoch_when_folds_stopped_early():
    assert final_epochs([4, 9, 6], early_stopping=True, configured=60) == 6
    assert final_epochs([4, 9, 6], early_stopping=False, configured=60) == 60


@pytest.fixture(scope="module")
def tiny_problem():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + 2 * (x[:, 2] > 0)
    return classification_task(4), (x[:90], y[:90]), (x[90:], y[90:])


def test_training_is_deterministic_and_regularizers_are_built(tiny_problem):
    from stages.lib.models import fit_mlp
    from stages.lib.params import TrainingParams

    task, train, validation = tiny_problem
    settings = TrainingParams(epochs=3, batch_size=16, optimizer="rmsprop", learning_rate=1e-3)
    first_model, first = fit_mlp(task, train, validation, settings, 7, [8], l2=0.01, dropout=0.2, verbose=0)
    _, second = fit_mlp(task, train, validation, settings, 7, [8], l2=0.01, dropout=0.2, verbose=0)
    pd.testing.assert_frame_equal(first, second)
    assert list(first.columns) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]
    assert [layer.__class__.__name__ for layer in first_model.layers] == ["Dense", "Dropout", "Dense"]
    assert first_model.layers[0].kernel_regularizer.l2 == pytest.approx(0.01)


def test_early_stopping_stops_and_restores(tiny_problem):
    from stages.lib.models import fit_mlp
    from stages.lib.params import TrainingParams

    task, train, validation = tiny_problem
    settings = TrainingParams(epochs=200, batch_size=8, optimizer="rmsprop", learning_rate=0.05)
    model, hist = fit_mlp(task, train, validation, settings, 0, [64], patience=2, verbose=0)
    assert len(hist) < 200
    restored = model.evaluate(*validation, verbose=0, return_dict=True)
    assert restored["accuracy"] == pytest.approx(hist["val_accuracy"].max(), abs=1e-6)
    assert len(hist) - best_epoch(hist, ("val_accuracy", "max")) == 2

    model, hist = fit_mlp(task, train, validation, settings, 0, [64], patience=2, verbose=0,
                          monitor=("val_loss", "min"))
    restored = model.evaluate(*validation, verbose=0, return_dict=True)
    assert restored["loss"] == pytest.approx(hist["val_loss"].min(), rel=1e-3)
    assert len(hist) - best_epoch(hist, ("val_loss", "min")) == 2


def test_early_stopping_watches_the_primary_metric_when_training_computes_it():
    from stages.lib.task import define_task

    balanced = define_task("digits", "classification", {0: 50, 1: 50, 2: 50}, 3.0)
    imbalanced = define_task("table", "classification", {0: 95, 1: 5}, 3.0)
    regression = define_task("table", "regression", None, 3.0)
    assert stopping_metric(balanced) == ("val_accuracy", "max")
    assert stopping_metric(imbalanced) == ("val_loss", "min")  # PR-AUC is not computed while training
    assert stopping_metric(regression) == ("val_mae", "min")


def test_best_epoch_is_the_first_best_of_the_watched_column():
    # MNIST's shape: validation loss bottoms out early from over-confidence while accuracy still climbs.
    curve = pd.DataFrame({"epoch": [1, 2, 3, 4, 5], "val_loss": [0.30, 0.20, 0.25, 0.28, 0.33],
                          "val_accuracy": [0.90, 0.93, 0.95, 0.95, 0.94]})
    assert best_epoch(curve, ("val_loss", "min")) == 2
    assert best_epoch(curve, ("val_accuracy", "max")) == 3
    # A small validation split ties: of the epochs at the best accuracy, the one with the lowest loss.
    tied = curve.assign(val_loss=[0.30, 0.20, 0.25, 0.22, 0.33])
    assert best_epoch(tied, ("val_accuracy", "max")) == 4
    assert best_epoch(curve.assign(val_mae=[3.0, 2.0, 1.5, 1.5, 1.6]), ("val_mae", "min")) == 3


def test_early_stopping_waits_out_ties_broken_by_the_loss_and_restores_the_best_epoch():
    from stages.lib.models import early_stopping

    class Model:
        stop_training = False
        weights = None

        def get_weights(self):
            return self.weights

        def set_weights(self, weights):
            self.weights = weights

    model, callback = Model(), early_stopping(("val_accuracy", "max"), patience=2)
    callback.set_model(model)
    callback.on_train_begin()
    epochs = [(0.9, 0.5), (1.0, 0.4), (1.0, 0.3), (1.0, 0.35), (0.9, 0.2), (1.0, 0.3)]
    for epoch, (accuracy, loss) in enumerate(epochs, start=1):
        model.weights = f"after epoch {epoch}"
        callback.on_epoch_end(epoch - 1, {"val_accuracy": accuracy, "val_loss": loss})
        if model.stop_training:
            break
    callback.on_train_end()
    assert epoch == 5 and model.weights == "after epoch 3"  # a tie with a lower loss counts as better


def test_regression_model_starts_at_the_training_mean_and_tracks_mae():
    from stages.lib.models import fit_mlp
    from stages.lib.params import TrainingParams
    from stages.lib.task import define_task

    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 3)).astype(np.float32)
    y = 150.0 + 40.0 * x[:, 0]
    settings = TrainingParams(epochs=2, batch_size=16, optimizer="rmsprop", learning_rate=1e-3)
    model, hist = fit_mlp(define_task("t", "regression", None, 3.0), (x[:60], y[:60]), None, settings, 0, [8],
                          verbose=0)
    assert list(hist.columns) == ["epoch", "loss", "mae"]  # no validation: a final model
    assert model.layers[-2].activation.__name__ == "linear" and model.layers[-1].name == "target_units"
    # Untrained layers output about 0 in standardized units: the target_units layer maps that to near the mean.
    assert abs(float(model.predict(x[60:], verbose=0).mean()) - y[:60].mean()) < 0.5 * y[:60].std()


def test_regression_learns_targets_of_any_scale_and_reports_them_in_their_units():
    """House prices: trained on standardized targets, predicting and reporting in the target's own units."""
    from stages.lib.models import fit_mlp
    from stages.lib.params import TrainingParams
    from stages.lib.task import define_task

    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 3)).astype(np.float32)
    y = 180_000 + 60_000 * x[:, 0] + 2_000 * rng.normal(size=300)
    settings = TrainingParams(epochs=20, batch_size=16, optimizer="rmsprop", learning_rate=1e-3)
    model, history = fit_mlp(define_task("t", "regression", None, 3.0), (x[:200], y[:200]), (x[200:], y[200:]),
                             settings, 0, [16], verbose=0)
    mae = float(np.abs(model.predict(x[200:], verbose=0).ravel() - y[200:]).mean())
    assert mae < 0.3 * float(np.abs(y[200:] - y[:200].mean()).mean())
    assert history["val_mae"].iloc[-1] == pytest.approx(mae, rel=1e-3)


def test_a_saved_regression_model_loads_without_warnings(tmp_path):
    """Stages load models; a warning on stderr would break their one-line errors."""
    import warnings

    from stages.lib.models import fit_mlp, load_model
    from stages.lib.params import TrainingParams
    from stages.lib.task import define_task

    x = np.random.default_rng(0).normal(size=(80, 3)).astype(np.float32)
    settings = TrainingParams(epochs=1, batch_size=16, optimizer="rmsprop", learning_rate=1e-3)
    model, _ = fit_mlp(define_task("t", "regression", None, 3.0), (x, 150 + 40 * x[:, 0]), None, settings, 0, [8],
                       verbose=0)
    model.save(tmp_path / "model.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_model(tmp_path / "model.keras")


def test_a_model_trained_again_from_its_starting_state_matches_a_new_one(tiny_problem):
    """fit_mlp reuses a model it built for the same architecture and seed (a fold loop); with dropout and early
    stopping, every fold's weights must be those a newly built model reaches."""
    from stages.lib import models
    from stages.lib.params import TrainingParams

    task, (x, y), validation = tiny_problem
    settings = TrainingParams(epochs=6, batch_size=8, optimizer="rmsprop", learning_rate=1e-2)
    folds = [np.arange(len(x)) % 3 != k for k in range(3)]

    def weights_per_fold(new_each_time: bool) -> list:
        weights = []
        for keep in folds:
            if new_each_time:
                models._built.clear()
            model, _ = models.fit_mlp(task, (x[keep], y[keep]), validation, settings, 3, [16], dropout=0.3, patience=2,
                                      verbose=0)
            weights.append([w.copy() for w in model.get_weights()])
        return weights

    reused, new = weights_per_fold(False), weights_per_fold(True)
    for fold_reused, fold_new in zip(reused, new):
        for a, b in zip(fold_reused, fold_new):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(reused[0][0], reused[1][0])  # the folds did train differently


def test_a_short_fit_runs_a_step_per_call_and_reaches_the_weights_a_multi_step_fit_does(tiny_problem, monkeypatch):
    from stages.lib import models
    from stages.lib.params import TrainingParams

    task, train, validation = tiny_problem
    settings = TrainingParams(epochs=4, batch_size=16, optimizer="rmsprop", learning_rate=1e-2)  # 4 x 6 = 24 steps
    short, _ = models.fit_mlp(task, train, validation, settings, 5, [8], dropout=0.2, verbose=0)
    assert short.steps_per_execution == 1
    short_weights = [w.copy() for w in short.get_weights()]
    monkeypatch.setattr(models, "MIN_STEPS_FOR_MULTI_STEP", 24)
    multi, _ = models.fit_mlp(task, train, validation, settings, 5, [8], dropout=0.2, verbose=0)
    assert multi.steps_per_execution == models.STEPS_PER_EXECUTION
    for a, b in zip(short_weights, multi.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert models.steps_per_execution(1150, 64, 30) == models.STEPS_PER_EXECUTION  # digits: 18 batches x 30 epochs


@pytest.mark.parametrize("rows, expected", [(300, 64), (32_000, 64), (32_001, 128), (60_000, 128),
                                            (1_000_000, 2048), (10_000_000, 8192), (100_000_000, 8192)])
def test_auto_batch_size_keeps_an_epoch_within_500_steps(rows, expected):
    from stages.lib.models import batch_size_for

    assert batch_size_for("auto", rows) == expected
    assert batch_size_for(64, rows) == 64  # a number is kept as it is


def test_auto_batch_size_is_valid_in_params_and_a_word_or_zero_is_refused(default_params):
    from stages.lib.params import TrainingParams

    assert TrainingParams(epochs=1, batch_size="auto", optimizer="rmsprop", learning_rate=0.1).batch_size == "auto"
    for bad in ("fast", 0):
        with pytest.raises(Exception, match="batch_size"):
            TrainingParams(epochs=1, batch_size=bad, optimizer="rmsprop", learning_rate=0.1)


class _Model:
    stop_training = False


def epochs_until_stopped(val_losses, tolerance, epochs):
    from stages.lib.models import stop_once_overfit

    callback = stop_once_overfit(tolerance, epochs)
    callback.set_model(_Model())
    callback.on_train_begin()
    for epoch, loss in enumerate(val_losses, start=1):
        callback.on_epoch_end(epoch - 1, {"val_loss": loss})
        if callback.model.stop_training:
            return epoch
    return None


def test_overfit_training_stops_once_overfitting_has_held_for_its_epochs():
    curve = [1.0, 0.6, 0.5, 0.52, 0.56, 0.6, 0.7, 0.8, 0.9]  # lowest 0.5 at epoch 3; above 0.525 from epoch 5
    assert epochs_until_stopped(curve, 0.05, 3) == 7
    assert epochs_until_stopped(curve, 0.05, 1) == 5
    assert epochs_until_stopped(curve, 0.5, 3) is None  # never 50% above its lowest
    # A dip to a new lowest starts the count again; diagnose() then reads the stopped curve as overfit.
    dipping = [1.0, 0.5, 0.6, 0.6, 0.45, 0.5, 0.5, 0.5]
    assert epochs_until_stopped(dipping, 0.05, 3) == 8
    stopped = dipping[:8]
    assert diagnose(history([0.1] * len(stopped), stopped), 0.05, 0.1)["overfit"]


def test_overfit_stops_a_fit_early_and_the_history_shows_overfitting(tiny_problem):
    from stages.lib.models import fit_mlp, stop_once_overfit
    from stages.lib.params import TrainingParams

    task, train, validation = tiny_problem
    settings = TrainingParams(epochs=200, batch_size=8, optimizer="rmsprop", learning_rate=0.05)
    _, hist = fit_mlp(task, train, validation, settings, 0, [64], verbose=0, callbacks=[stop_once_overfit(0.05, 3)])
    assert len(hist) < 200 and diagnose(hist, 0.05, 0.25)["overfit"]


@pytest.mark.parametrize("sparse, gathered", [(False, False), (False, True), (True, True)])
def test_batches_gather_each_row_once_per_pass_in_a_seeded_order_that_changes_every_pass(sparse, gathered,
                                                                                         monkeypatch):
    import scipy.sparse
    import tensorflow as tf

    from stages.lib import models
    from stages.lib.models import batches

    if gathered and not sparse:  # dense features as large ones are fed: by gathering row numbers
        monkeypatch.setattr(models, "GATHER_DENSE_ABOVE", 0)

    rng = np.random.default_rng(0)
    x = rng.normal(size=(203, 6)).astype(np.float32)
    x[rng.random(x.shape) < 0.5] = 0.0  # half zeros, as sparse
    x[:, 0] = np.arange(203)  # each row carries its number
    y = np.arange(203)
    features = scipy.sparse.csr_matrix(x) if sparse else x

    def passes(seed, count=2):
        data = batches((features, y), 32, seed)
        out = []
        for _ in range(count):
            rows, labels = [], []
            for xb, yb in data:
                rows.append(tf.sparse.to_dense(xb).numpy() if sparse else xb.numpy())
                labels.append(yb.numpy())
            out.append((np.concatenate(rows), np.concatenate(labels)))
        return out

    first, second = passes(7)
    for rows, labels in (first, second):
        assert sorted(labels) == list(range(203)) and np.array_equal(rows, x[labels])  # every row once, intact
    assert not np.array_equal(first[1], second[1])  # reshuffled on every pass
    assert np.array_equal(passes(7)[0][1], first[1])  # seeded
    assert np.array_equal(passes(None, 1)[0][1], y)  # no seed: in order
    monkeypatch.setattr(models, "GATHER_DENSE_ABOVE", 2**40)
    in_memory = np.concatenate([labels.numpy() for _, labels in batches((x, y), 32, 7)])
    assert np.array_equal(in_memory, first[1])  # every path: the order shuffling the rows themselves gives
