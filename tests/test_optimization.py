"""int8 quantization and magnitude pruning of a tiny model, and the rule that bounds their score loss."""
import json

import numpy as np
import pytest
import yaml

from stages.lib.errors import PipelineError
from stages.lib.models import build_model
from stages.lib.optimization import (check_score_losses, keep_pruned, prune, quantized, single_example_latency_ms,
                                     sparsity_of, table, weights_bytes, without_optimizer)
from tests.conftest import THREE_CLASSES, run_module, write_params


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


@pytest.fixture
def trained_project(tmp_path, data):
    """What optimize reads: development and test features, the task and the regularized model."""
    from stages.lib import paths
    from stages.lib.artifacts import write_features
    from stages.lib.io import write_json
    from tests.conftest import ROOT

    x, y = data
    write_features(tmp_path / paths.features_file("development"), x[:90], y[:90])
    write_features(tmp_path / paths.features_file("test"), x[90:], y[90:])
    write_json(tmp_path / paths.TASK, {**THREE_CLASSES, "primary_metric": "accuracy", "greater_is_better": True,
                                       "secondary_metrics": []})
    (tmp_path / paths.REGULARIZED_DIR).mkdir(parents=True)
    tiny_model(data).save(tmp_path / paths.REGULARIZED_DIR / "model.keras")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["optimize"].update(fine_tune_epochs=1, latency_repeats=5)
    write_params(tmp_path, params)
    return tmp_path, params


def test_the_stage_writes_the_variants_and_their_table(trained_project):
    from stages.lib import paths

    project, params = trained_project
    params["optimize"]["max_score_loss"] = 1.0
    write_params(project, params)
    result = run_module("stages.optimize", project)
    assert result.returncode == 0, result.stderr
    table_text = (project / paths.OPTIMIZATION_TABLE).read_text()
    assert all(f"| {name} |" in table_text for name in ("float32", "int8", "pruned"))
    metrics = json.loads((project / paths.OPTIMIZE_METRICS).read_text())
    assert metrics["pruned"]["sparsity"] == pytest.approx(0.5, abs=0.01) and set(metrics["score_loss"]) == {"int8",
                                                                                                           "pruned"}
    assert {p.name for p in (project / paths.OPTIMIZED_DIR).iterdir()} == {"int8.keras", "pruned.keras"}


def test_the_stage_fails_without_outputs_when_a_variant_loses_too_much(trained_project):
    from stages.lib import paths

    project, params = trained_project
    params["optimize"].update(sparsity=0.99, fine_tune_epochs=0, max_score_loss=0.0)
    write_params(project, params)
    result = run_module("stages.optimize", project)
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "more than optimize.max_score_loss 0.0: raise it to accept" in result.stderr
    for output in (paths.OPTIMIZED_DIR, paths.OPTIMIZATION_TABLE, paths.OPTIMIZE_METRICS):
        assert not (project / output).exists(), output
