"""Smaller, faster variants of the chosen model: int8 weight quantization and magnitude pruning."""
import gzip
import os
import statistics
import tempfile
import time

import numpy as np
from scipy.sparse import issparse

from stages.lib import markdown
from stages.lib.evaluation import task_scores, tolerance_is_relative
from stages.lib.paired import compare_models
from stages.lib.task import Task


def takes_sparse(model) -> bool:
    return bool(getattr(model.inputs[0], "sparse", False))


def dense_input(model):
    """The same model taking dense rows instead of sparse ones."""
    config = model.get_config()
    config["layers"][0]["config"]["sparse"] = False  # the Input of a Sequential model, as build_model makes it
    copy = type(model).from_config(config)
    copy.set_weights(model.get_weights())
    return copy


def quantized(path: str):
    """The model at `path` with its Dense kernels stored as int8 (Keras' per-channel weight quantization).

    Keras' int8 Dense layer cannot multiply a sparse input, so a model of sparse (multi-hot text)
    features becomes one taking the same rows dense. A table model's IndexedDense (indexed categories) has
    no int8 form in Keras and stays float32.
    """
    import warnings

    import keras

    import stages.lib.table_layer  # noqa: F401  (registers IndexedDense)

    model = keras.models.load_model(path, compile=False)
    if takes_sparse(model):
        model = dense_input(model)
    with warnings.catch_warnings():  # "InputLayer does not have a quantize method": nothing to quantize there
        warnings.simplefilter("ignore", UserWarning)
        model.quantize("int8")
    return model


def prune(model, sparsity: float) -> list:
    """Zero the smallest-magnitude `sparsity` share of each Dense kernel (an IndexedDense's kernel and
    embeddings together: the rows of the one-hot kernel they stand for); returns (weights, mask) pairs."""
    masks = []
    for layer in model.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is None:
            continue
        variables = [kernel, *getattr(layer, "embeddings", [])]
        values = [np.asarray(variable) for variable in variables]
        threshold = np.quantile(np.abs(np.concatenate([v.ravel() for v in values])), sparsity)
        for variable, weights in zip(variables, values):
            mask = (np.abs(weights) > threshold).astype(weights.dtype)
            variable.assign(weights * mask)
            masks.append((variable, mask))
    return masks


def keep_pruned(masks: list):
    """A callback that puts the zeros back after every training step, so fine-tuning keeps the sparsity."""
    import keras

    class KeepPruned(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            for kernel, mask in masks:
                kernel.assign(kernel * mask)

    return KeepPruned()


def fine_tune(model, masks: list, xy, epochs: int, batch_size, seed: int) -> None:
    """Train the pruned `model` further, shuffled with `seed`, with its zeros put back after every step. It runs
    one batch per call for that (models train several per call, see stages.lib.models.STEPS_PER_EXECUTION)."""
    from stages.lib.models import batch_size_for, train

    model.steps_per_execution = 1
    model.make_train_function(force=True)  # one made for the model's earlier training would run several
    train(model, xy, None, epochs, batch_size_for(batch_size, xy[0].shape[0]), seed, callbacks=[keep_pruned(masks)])


def sparsity_of(masks: list) -> float:
    return float(1 - sum(mask.sum() for _, mask in masks) / sum(mask.size for _, mask in masks))


def without_optimizer(model):
    """The model for inference: a compiled model's copy without the optimizer, whose state would
    otherwise be saved along (RMSprop keeps one number per weight)."""
    if getattr(model, "optimizer", None) is None:
        return model
    copy = type(model).from_config(model.get_config())  # clone_model would carry the compile state along
    copy.set_weights(model.get_weights())
    return copy


def weights_bytes(model) -> dict:
    """Size of the model's weights on disk, as saved and gzip-compressed (zeros compress, as pruning intends)."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.weights.h5")
        model.save_weights(path)
        with open(path, "rb") as handle:
            data = handle.read()
    return {"weights_bytes": len(data), "gzip_bytes": len(gzip.compress(data, compresslevel=9, mtime=0))}


def predict(model, x, batch_size: int = 512) -> np.ndarray:
    """The model's outputs on x; sparse rows go to a model taking dense ones (int8) a batch at a time."""
    if issparse(x) and not takes_sparse(model):
        return np.concatenate([model.predict(x[i:i + batch_size].toarray(), verbose=0)
                               for i in range(0, x.shape[0], batch_size)])
    from stages.lib import models

    return models.predict(model, x)


def _one_row(model, x, i: int):
    """Example i as the model takes it; a scipy row is no input for predict_on_batch, a tf.SparseTensor is."""
    row = x[i:i + 1]
    if not issparse(row):
        return row
    if not takes_sparse(model):
        return row.toarray()
    import tensorflow as tf

    coo = row.tocoo()
    return tf.sparse.reorder(tf.SparseTensor(np.column_stack([coo.row, coo.col]).astype(np.int64), coo.data, coo.shape))


def single_example_latency_ms(model, x, repeats: int) -> float:
    """Median milliseconds of one prediction of one example (a compiled predict step, after a warm-up)."""
    rows = [_one_row(model, x, i % x.shape[0]) for i in range(repeats)]
    model.predict_on_batch(rows[0])
    times = []
    for row in rows:
        start = time.perf_counter()
        model.predict_on_batch(row)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def loss_bar(metric: str, max_loss: float, reference: float, one_example: float) -> tuple:
    """(the most a variant may lose against float32, how that was set) for optimize.max_score_loss.

    A bounded metric (accuracy, AUC, ... in [0, 1], and R² at most 1) loses points: the bar is max_loss
    itself. An unbounded one (MAE, MSE, RMSE in the target's units; stages.lib.evaluation.
    tolerance_is_relative) loses a share of float32's score `reference`: the bar is max_loss x that
    score, whatever the target's scale (0.01: 1% of the MAE, cents for a price of hundreds of dollars).
    Either way at least `one_example`, what one test example can move the difference (stages.lib.
    evaluation.one_example: 1/n for accuracy, the largest change of one example's error over n for MAE).
    """
    if tolerance_is_relative(metric):
        allowed = max_loss * abs(reference)
        how = (f"optimize.max_score_loss {max_loss:g} as a share of float32's test {metric}, "
               f"{max_loss * 100:.4g}% of {reference:.4g} = {allowed:.4f}")
    else:
        allowed = max_loss
        how = f"optimize.max_score_loss {max_loss:g}, absolute for {metric}"
    bar = max(allowed, one_example)
    return bar, f"a bar of {bar:.4f} (the larger of {how}, and one test example {one_example:.4f})"


def judge(comparison: dict, bar: tuple, significance: float) -> dict:
    """Accept or reject a variant from its paired comparison with float32 on the test examples.

    Rejected only when it is significantly worse (one-sided p-value at most `significance`)
    and loses more than the bar, loss_bar's (value, how it was set).
    """
    loss, p_value = comparison["difference"], comparison["p_value"]
    bar, how = bar
    lost = (f"loses {loss:.4f} (95% interval {comparison['ci_low']:+.4f} to {comparison['ci_high']:+.4f}) against "
            f"{how}")
    tested = f"one-sided p={p_value:.3g} against optimize.significance {significance}"
    if p_value > significance:
        return {"status": "accepted", "reason": f"not significantly worse ({tested}); {lost}"}
    if loss <= bar:
        return {"status": "accepted", "reason": f"significantly worse ({tested}) but within the bar: {lost}"}
    return {"status": "rejected", "reason": f"significantly worse ({tested}) and {lost}"}


def compare_variants(task: Task, y_test: np.ndarray, outputs: dict, seed: int, max_loss: float,
                     significance: float) -> dict:
    """Each variant's test-score loss against float32 on the same examples, its interval, p-value and status;
    `max_loss` is optimize.max_score_loss, read as loss_bar says."""
    metric = task.primary_metric
    reference = task_scores(task, y_test, outputs["float32"])[metric]
    verdicts = {}
    for name, output in outputs.items():
        if name == "float32":
            continue
        comparison = compare_models(task, metric, y_test, outputs["float32"], output, seed)
        bar = loss_bar(metric, max_loss, reference, comparison["one_example"])
        verdicts[name] = {"score_loss": comparison["difference"], "score_loss_ci_low": comparison["ci_low"],
                          "score_loss_ci_high": comparison["ci_high"], "p_value": comparison["p_value"],
                          "one_example": comparison["one_example"], **judge(comparison, bar, significance)}
    return verdicts


def table(results: dict, metric: str) -> str:
    """The Markdown comparison written to reports/optimization.md."""
    rows = []
    for name, r in results.items():
        loss = (f"{r['score_loss']:+.4f} ({r['score_loss_ci_low']:+.4f} to {r['score_loss_ci_high']:+.4f})"
                if "score_loss" in r else "")
        p_value = f"{r['p_value']:.3g}" if "p_value" in r else ""
        rows.append([name, f"{r['weights_bytes']:,}", f"{r['gzip_bytes']:,}", f"{r[metric]:.4f}", loss, p_value,
                     r.get("status", "reference")])
    header = ["variant", "weights (bytes)", "gzipped (bytes)", f"test {metric}", "loss vs float32 (95% interval)",
              "p-value", "status"]
    return markdown.table(header, rows) + "\n"
