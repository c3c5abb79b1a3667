"""Smaller, faster variants of the chosen model: int8 weight quantization and magnitude pruning."""
import gzip
import os
import statistics
import tempfile
import time

import numpy as np

from stages.lib.errors import PipelineError


def quantized(path: str):
    """The model at `path` with its Dense kernels stored as int8 (Keras' per-channel weight quantization)."""
    import warnings

    import keras

    model = keras.models.load_model(path, compile=False)
    with warnings.catch_warnings():  # "InputLayer does not have a quantize method": nothing to quantize there
        warnings.simplefilter("ignore", UserWarning)
        model.quantize("int8")
    return model


def prune(model, sparsity: float) -> list:
    """Zero the smallest-magnitude `sparsity` share of each Dense kernel; returns (kernel, mask) pairs."""
    masks = []
    for layer in model.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is None:
            continue
        weights = np.asarray(kernel)
        threshold = np.quantile(np.abs(weights), sparsity)
        mask = (np.abs(weights) > threshold).astype(weights.dtype)
        kernel.assign(weights * mask)
        masks.append((kernel, mask))
    return masks


def keep_pruned(masks: list):
    """A callback that puts the zeros back after every training step, so fine-tuning keeps the sparsity."""
    import keras

    class KeepPruned(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            for kernel, mask in masks:
                kernel.assign(kernel * mask)

    return KeepPruned()


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


def single_example_latency_ms(model, x, repeats: int) -> float:
    """Median milliseconds of one prediction of one example (a compiled predict step, after a warm-up)."""
    rows = [x[i % x.shape[0]:i % x.shape[0] + 1] for i in range(repeats)]
    model.predict_on_batch(rows[0])
    times = []
    for row in rows:
        start = time.perf_counter()
        model.predict_on_batch(row)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def check_score_losses(results: dict, metric: str, greater_is_better: bool, max_loss: float) -> dict:
    """How much each variant's test score fell below float32's; a PipelineError when any fell more than max_loss."""
    reference = results["float32"][metric]
    losses = {name: round((reference - r[metric]) if greater_is_better else (r[metric] - reference), 6)
              for name, r in results.items() if name != "float32"}
    worse = {name: loss for name, loss in losses.items() if loss > max_loss}
    if worse:
        named = ", ".join(f"{name} loses {loss:.4f}" for name, loss in worse.items())
        raise PipelineError(f"test {metric}: {named} against float32 {reference:.4f}, more than "
                            f"optimize.max_score_loss {max_loss}: raise it to accept, or lower optimize.sparsity")
    return losses


def table(results: dict, metric: str) -> str:
    """The Markdown comparison written to reports/optimization.md."""
    lines = [f"| variant | weights (bytes) | gzipped (bytes) | test {metric} | single-example latency (ms) |",
             "|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['weights_bytes']:,} | {r['gzip_bytes']:,} | {r[metric]:.4f} | "
                     f"{r['latency_ms']:.2f} |")
    return "\n".join(lines) + "\n"
