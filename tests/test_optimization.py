"""int8 quantization and magnitude pruning of a tiny model, and the rule that bounds their score loss."""
import numpy as np
import pytest

from stages.lib.errors import PipelineError
from stages.lib.models import build_model
from stages.lib.optimization import (check_score_losses, keep_pruned, prune, quantized, single_example_latency_ms,
                                     sparsity_of, table, weights_bytes, without_optimizer)
from tests.conftest import THREE_CLASSES


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 16)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(int) + (x[:, 1] > 0).astype(int)


def tiny_model(data):
    model = build_model(16, THREE_CLASSES, [32], "rmsprop", 0.01)
    model.fit(*data, epochs=3, verbose=0)
    return model


def test_pruning_zeroes_the_smallest_weights_and_fine_tuning_keeps_them_zero(data):
    model = tiny_model(data)
    before = [np.abs(np.asarray(layer.kernel)) for layer in model.layers]
    masks = prune(model, 0.75)
    for layer, magnitudes in zip(model.layers, before):
        kernel = np.asarray(layer.kernel)
        assert np.mean(kernel == 0) == pytest.approx(0.75, abs=0.01)
        assert (kernel[magnitudes > np.quantile(magnitudes, 0.75)] != 0).all()  # the largest survive
    model.fit(*data, epochs=2, verbose=0, callbacks=[keep_pruned(masks)])
    assert all(np.mean(np.asarray(layer.kernel) == 0) >= 0.74 for layer in model.layers)
    assert sparsity_of(masks) == pytest.approx(0.75, abs=0.01)


def test_int8_weights_are_int8_and_predict_nearly_as_float32(data, tmp_path):
    model = tiny_model(data)
    model.save(tmp_path / "model.keras")
    small = quantized(str(tmp_path / "model.keras"))
    assert {str(w.dtype) for w in small.weights if w.name == "kernel"} == {"int8"}
    assert np.abs(small.predict(data[0], verbose=0) - model.predict(data[0], verbose=0)).max() < 0.05
    assert weights_bytes(small)["weights_bytes"] < weights_bytes(model)["weights_bytes"]


def test_sizes_leave_the_optimizer_state_out(data):
    model = tiny_model(data)  # compiled and trained: RMSprop holds one number per weight
    bare = without_optimizer(model)
    assert np.allclose(bare.predict(data[0], verbose=0), model.predict(data[0], verbose=0))
    floats = sum(np.asarray(w).nbytes for w in model.weights)
    assert weights_bytes(model)["weights_bytes"] - weights_bytes(bare)["weights_bytes"] >= floats


def test_pruned_weights_compress_better_and_latency_is_measured(data):
    dense, pruned = tiny_model(data), tiny_model(data)
    prune(pruned, 0.9)
    assert weights_bytes(pruned)["gzip_bytes"] < weights_bytes(dense)["gzip_bytes"]
    assert 0 < single_example_latency_ms(dense, data[0], repeats=5) < 1000


def test_a_variant_losing_more_than_allowed_fails_naming_it():
    results = {"float32": {"accuracy": 0.98}, "int8": {"accuracy": 0.975}, "pruned": {"accuracy": 0.95}}
    with pytest.raises(PipelineError, match=r"pruned loses 0\.0300 against float32 0\.9800, more than "
                                            r"optimize\.max_score_loss 0\.01"):
        check_score_losses(results, "accuracy", True, 0.01)
    assert check_score_losses(results, "accuracy", True, 0.05) == {"int8": 0.005, "pruned": 0.03}
    mae = {"float32": {"mae": 40.0}, "int8": {"mae": 40.5}, "pruned": {"mae": 39.0}}  # lower is better
    assert check_score_losses(mae, "mae", False, 1.0) == {"int8": 0.5, "pruned": -1.0}


def test_the_table_has_one_row_per_variant():
    row = {"weights_bytes": 1000, "gzip_bytes": 500, "accuracy": 0.9861, "latency_ms": 1.234}
    text = table({"float32": row, "int8": row}, "accuracy")
    assert "| float32 | 1,000 | 500 | 0.9861 | 1.23 |" in text and text.count("\n") == 4
