"""Keras models: building, seeded training, and the overfitting diagnosis.

TensorFlow is imported inside the functions, so modules that only need the diagnosis
(or the tests of it) stay fast.
"""
import itertools
import json
import os

import numpy as np
import pandas as pd
from scipy.sparse import issparse

from stages.lib.artifacts import StoredRows
from stages.lib.errors import PipelineError
from stages.lib.task import Task


# Batches Keras runs per call into TensorFlow, which saves per-batch Python overhead on small data (the
# digits MLP, 30 epochs, alternating runs: about 5.4 s at 1, 4.5 s at 32, the same weights to the bit);
# epoch-level callbacks (early stopping) are unaffected, batch-level ones see every 32nd batch.
STEPS_PER_EXECUTION = 32
# ...but tracing that loop costs about 0.2 s more per model than tracing one step, which a short fit does not
# earn back: one under this many steps runs a step per call (a small table's study, 5 epochs of 3 batches:
# the studies stage 19.9 -> 15.9 s, medians of 3 alternating runs, the same results).
MIN_STEPS_FOR_MULTI_STEP = 300


# batch_size: auto follows the data: the smallest power of two from AUTO_BATCH_MIN (data up to 32,000 rows keeps
# the default batch of 64, bit for bit) to AUTO_BATCH_MAX that keeps an epoch within AUTO_STEPS_PER_EPOCH steps
# (MNIST's 60,000 images at the book's batch of 128 take 469). A million rows train in batches of 2,048: 489 steps per epoch, not
# 15,625 of 64, each step's cost barely more on 2 cores.
AUTO_STEPS_PER_EPOCH = 500
AUTO_BATCH_MIN, AUTO_BATCH_MAX = 64, 8192


def batch_size_for(batch_size, rows: int) -> int:
    """The params' batch size, or with "auto" the one for a fit on `rows` examples."""
    if batch_size != "auto":
        return batch_size
    size = AUTO_BATCH_MIN
    while size < AUTO_BATCH_MAX and -(-rows // size) > AUTO_STEPS_PER_EPOCH:
        size *= 2
    return size


def steps_per_execution(rows: int, batch_size: int, epochs: int) -> int:
    """STEPS_PER_EXECUTION for a fit of at least MIN_STEPS_FOR_MULTI_STEP steps, else 1."""
    steps = epochs * -(-rows // batch_size)
    return STEPS_PER_EXECUTION if steps >= MIN_STEPS_FOR_MULTI_STEP else 1


# The models fit_mlp built last (at most KEPT_MODELS, oldest dropped first), with their starting states, for
# the next calls with the same architecture and seed: a loop over folds, or regularize's final fit of the kept
# candidate, trains one again from that state instead of building and tracing a new one, which costs about
# 0.8 s per fit, and reaches the same weights to the bit.
KEPT_MODELS = 4
_built = {}


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow and make TensorFlow's ops deterministic."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    # Predicting once per fold retraces tf.functions; the warning about it is noise here.
    tf.get_logger().setLevel("ERROR")


def make_optimizer(name: str, learning_rate: float):
    import keras

    return {"rmsprop": keras.optimizers.RMSprop, "adam": keras.optimizers.Adam,
            "sgd": keras.optimizers.SGD}[name](learning_rate=learning_rate, name=name)


def build_model(n_features: int, task: Task, units, optimizer: str, learning_rate: float,
                l1: float = 0.0, l2: float = 0.0, dropout: float = 0.0, sparse: bool = False,
                cross_entropy: bool = False, output_bias: float = 0.0,
                steps_per_execution: int = STEPS_PER_EXECUTION, indexed=None):
    """A densely connected model with the task's last layer, loss and metric (ch. 4-6 of the book).

    With `sparse`, it takes scipy CSR inputs (multi-hot text) without ever densifying them. With `indexed`
    (the "indexed" layout of a table's features, artifacts.read_indexed), its first layer is an IndexedDense:
    the Dense layer over those columns one-hot encoded, reading each as an embedding lookup.
    With `cross_entropy` (classification), it also reports the plain cross-entropy (no weight
    penalties) per epoch. `output_bias` starts the last layer there: a regression model
    starting at the training targets' mean need not spend its first epochs getting there.
    """
    import keras
    from keras import layers, regularizers

    regularizer = regularizers.L1L2(l1=l1, l2=l2) if (l1 or l2) else None
    # Named, so that a saved model's bytes do not depend on how many models its process built before (Keras
    # numbers unnamed layers per process: dense_7), nor on which process trained it (parallel.parallel_map).
    model = keras.Sequential([keras.Input(shape=(n_features,), sparse=sparse, name="features")], name="mlp")

    def dense(width, first: bool, **kwargs):
        if first and indexed:
            from stages.lib.table_layer import IndexedDense

            return IndexedDense(width, indexed["positions"], indexed["sizes"], indexed["masked"], **kwargs)
        return layers.Dense(width, **kwargs)

    for number, width in enumerate(units, start=1):
        model.add(dense(width, number == 1, activation="relu", kernel_regularizer=regularizer, name=f"hidden_{number}"))
        if dropout:
            model.add(layers.Dropout(dropout, name=f"dropout_{number}"))
    model.add(dense(task.output_units, not units, activation=task.last_layer_activation,
                    bias_initializer=keras.initializers.Constant(output_bias), name="output"))
    metrics = [task.training_metric]
    if cross_entropy and not task.is_regression:
        kind = keras.metrics.BinaryCrossentropy if task.output_units == 1 else keras.metrics.SparseCategoricalCrossentropy
        metrics.append(kind(name="cross_entropy"))
    model.compile(optimizer=make_optimizer(optimizer, learning_rate), loss=task.loss, metrics=metrics,
                  steps_per_execution=steps_per_execution)
    return model


# Dense features of more bytes than this are fed as sparse ones are, by gathering shuffled row numbers.
GATHER_DENSE_ABOVE = 64 * 2**20


def batches(xy, batch_size: int, shuffle_seed=None):
    """(x, y) as a tf.data pipeline of batches, reshuffled on every pass when `shuffle_seed` is given; x is
    an array or a scipy sparse matrix (multi-hot text), which stays sparse.

    Keras' own pipeline for NumPy arrays costs about 15 ms to start, twice per epoch: more than an epoch
    of training on a few hundred rows. This one starts in under 1 ms.
    """
    import tensorflow as tf

    x, y = xy[0], np.asarray(xy[1])
    if isinstance(x, StoredRows):
        return _streamed(x, y, batch_size, shuffle_seed)
    rows = x.shape[0]
    if not issparse(x) and x.nbytes <= GATHER_DENSE_ABOVE:
        data = tf.data.Dataset.from_tensor_slices((x, y))
        if shuffle_seed is not None:
            data = data.shuffle(rows, seed=shuffle_seed, reshuffle_each_iteration=True)
        return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    # Large or sparse rows: their numbers are shuffled and batched, then each batch's rows gathered at once.
    # Shuffling the rows themselves keeps them all in the shuffle buffer and slices them one by one (a million
    # one-hot rows: overfit 491 -> 396 s, peak RSS 2.6 -> 2.0 GB). The order is the one shuffling the rows
    # would give. Small dense rows keep the path above: it starts in 10 ms, this one in 40 (tracing its map).
    y = tf.constant(y)
    if issparse(x):
        take = _sparse_rows(x)
    else:
        x = tf.constant(x)

        def take(indices):
            return tf.gather(x, indices)

    order = tf.data.Dataset.range(rows)
    if shuffle_seed is not None:
        order = order.shuffle(rows, seed=shuffle_seed, reshuffle_each_iteration=True)
    return order.batch(batch_size).map(lambda indices: (take(indices), tf.gather(y, indices))).prefetch(
        tf.data.AUTOTUNE)


# Stored rows (artifacts.StoredRows) are shuffled within windows of blocks of about this many bytes: each pass
# takes the blocks in a seeded random order, a window of them at a time, and the window's rows in a seeded random
# order. A file's rows are never all in memory; a batch mixes rows from all over the window's blocks.
SHUFFLE_WINDOW_BYTES = 256 << 20


def _streamed(x: StoredRows, y: np.ndarray, batch_size: int, shuffle_seed=None):
    """batches() of rows read from their file a block at a time; every batch full but the last, as in memory."""
    import tensorflow as tf

    passes = itertools.count()

    def generate():
        rng = None if shuffle_seed is None else np.random.default_rng([shuffle_seed, next(passes)])
        return window_batches(x, y, batch_size, rng)

    signature = (tf.TensorSpec((None, *x.shape[1:]), tf.as_dtype(x.dtype)),
                 tf.TensorSpec((None, *y.shape[1:]), tf.as_dtype(y.dtype)))
    data = tf.data.Dataset.from_generator(generate, output_signature=signature)
    return data.apply(tf.data.experimental.assert_cardinality(-(-len(y) // batch_size))).prefetch(2)


def window_batches(x: StoredRows, y: np.ndarray, batch_size: int, rng=None):
    """(x, y) batches of one pass over stored rows: with `rng`, the blocks in a random order, a window of them
    (SHUFFLE_WINDOW_BYTES) at a time, each window's rows in a random order; without, in stored order. Holds one
    window, the block being read and the rows left over for the next window's first batch."""
    blocks = len(x.block_rows)
    per_window = max(1, SHUFFLE_WINDOW_BYTES // max(1, int(x.block_rows.max()) * (x.nbytes // max(1, len(x)))))
    order = np.arange(blocks) if rng is None else rng.permutation(blocks)
    left_x, left_y = np.empty((0, *x.shape[1:]), x.dtype), y[:0]
    for start in range(0, blocks, per_window):
        window = order[start:start + per_window]
        rows = len(left_y) + int(x.block_rows[window].sum())
        rows_x, rows_y = np.empty((rows, *x.shape[1:]), x.dtype), np.empty((rows, *y.shape[1:]), y.dtype)
        rows_x[:len(left_y)], rows_y[:len(left_y)] = left_x, left_y
        at = len(left_y)
        del left_x, left_y
        for number in window:
            block = x.block(number)
            rows_x[at:at + len(block)], rows_y[at:at + len(block)] = block, y[x.starts[number]:x.starts[number + 1]]
            at += len(block)
            del block  # before the next is read
        picked = np.arange(rows) if rng is None else rng.permutation(rows)
        full = rows - rows % batch_size
        for first in range(0, full, batch_size):
            yield rows_x[picked[first:first + batch_size]], rows_y[picked[first:first + batch_size]]
        left_x, left_y = rows_x[picked[full:]], rows_y[picked[full:]]  # copies: the window is freed
        del rows_x, rows_y
    if len(left_y):
        yield left_x, left_y


# Stored rows are predicted in batches of this many rows: Keras' default of 32 takes 7.7 s for 186,000 rows of a
# [64, 64] model, 8,192 takes 0.24 s (2 million test rows: 83 s -> 2.6 s a model). Rows in memory keep the default,
# and with it the outputs of every result so far to the bit.
STREAMED_PREDICT_BATCH = 8192


def predict(model, x) -> np.ndarray:
    """The model's outputs on x: an array, a CSR matrix (for a model taking sparse inputs), or a StoredRows,
    predicted a block at a time."""
    if isinstance(x, StoredRows):
        return np.concatenate([model.predict(block, batch_size=STREAMED_PREDICT_BATCH, verbose=0)
                               for block in x.blocks()])
    return model.predict(x, verbose=0)


def _sparse_rows(x):
    """A function from a batch of row numbers to those rows of the CSR matrix x, as a tf.SparseTensor."""
    import tensorflow as tf

    x = x if x.has_sorted_indices else x.sorted_indices()
    splits = x.indptr.astype(np.int64)
    columns = tf.RaggedTensor.from_row_splits(x.indices.astype(np.int64), splits)
    values = tf.RaggedTensor.from_row_splits(x.data, splits)
    width = x.shape[1]

    def take(indices):
        picked = tf.gather(columns, indices)
        coordinates = tf.stack([picked.value_rowids(), picked.flat_values], axis=1)
        shape = tf.stack([tf.size(indices, out_type=tf.int64), tf.constant(width, tf.int64)])
        return tf.SparseTensor(coordinates, tf.gather(values, indices).flat_values, shape)

    return take


# (history column, "max" or "min"): the validation loss, lower is better.
VALIDATION_LOSS = ("val_loss", "min")


def stopping_metric(task: Task) -> tuple:
    """(history column, "max" or "min"): what early stopping watches and keeps the best epoch of. The task's
    primary metric on validation when training computes it (accuracy, mae), else the validation loss (a
    PR-AUC task's cross-entropy).

    Not the loss when the metric is at hand: on real MNIST the validation loss turns up from over-confidence
    at epoch 2-7 while validation accuracy still climbs for 20 more, so stopping on the loss kept a model
    a point of accuracy short of what the same architecture reaches.
    """
    if task.primary_metric == task.training_metric:
        return f"val_{task.primary_metric}", "max" if task.greater_is_better else "min"
    return VALIDATION_LOSS


def epoch_rank(values: dict, monitor: tuple) -> tuple:
    """An epoch's sort key, lower is better: the monitored value, then the validation loss. Accuracy on a
    small validation split ties often (10 reviews: every epoch from the 4th at 1.0), and of tied epochs the
    one with the lower loss is the surer model."""
    column, mode = monitor
    return (-values[column] if mode == "max" else values[column], values["val_loss"])


def best_epoch(history: pd.DataFrame, monitor: tuple) -> int:
    """The epoch early stopping restores: the first with the best epoch_rank."""
    ranks = [epoch_rank(row, monitor) for row in history.to_dict("records")]
    return int(history["epoch"].iloc[ranks.index(min(ranks))])


def stop_once_overfit(tolerance: float, epochs: int):
    """A Keras callback: stop once the validation loss has stayed above (1 + tolerance) x its lowest so far for
    `epochs` epochs in a row, overfitting shown as diagnose() reads it; the weights are the last epoch's."""
    import keras

    class StopOnceOverfit(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.lowest, self.above = float("inf"), 0

        def on_epoch_end(self, epoch, logs=None):
            loss = logs["val_loss"]
            self.above = self.above + 1 if loss > (1 + tolerance) * self.lowest else 0
            self.lowest = min(self.lowest, loss)
            self.model.stop_training = self.above >= epochs

    return StopOnceOverfit()


def early_stopping(monitor: tuple, patience: int):
    """A Keras callback: stop once no epoch has bettered the best epoch_rank for `patience` epochs, then
    restore the best epoch's weights. keras.callbacks.EarlyStopping watches one number and cannot break ties."""
    import keras

    class EarlyStopping(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.best, self.weights, self.wait = None, None, 0

        def on_epoch_end(self, epoch, logs=None):
            rank = epoch_rank(logs, monitor)
            if self.best is None or rank < self.best:
                self.best, self.weights, self.wait = rank, self.model.get_weights(), 0
            else:
                self.wait += 1
                self.model.stop_training = self.wait >= patience

        def on_train_end(self, logs=None):
            if self.weights is not None:
                self.model.set_weights(self.weights)

    return EarlyStopping()


def train(model, train_xy, validation_xy, epochs: int, batch_size: int, seed: int, patience=None,
          verbose: int = 2, callbacks=(), monitor=None) -> pd.DataFrame:
    """Fit on the training split, shuffled with `seed`, watch the validation split (if any); returns the
    per-epoch history.

    With `patience`, training stops once `monitor` (history column, "max" or "min"; default the validation
    loss) has not improved for that many epochs and the best weights are restored (early_stopping).
    `callbacks` are Keras callbacks added to that.
    """
    callbacks = list(callbacks)
    if patience and validation_xy is not None:
        callbacks.append(early_stopping(monitor or VALIDATION_LOSS, patience))
    history = model.fit(batches(train_xy, batch_size, seed), epochs=epochs, shuffle=False, callbacks=callbacks,
                        verbose=verbose,
                        validation_data=None if validation_xy is None else batches(validation_xy, batch_size))
    return history_frame(history.history)


def history_frame(history: dict) -> pd.DataFrame:
    """Keras' History as a frame: epoch, training columns (loss, metric, cross_entropy), then validation ones."""
    frame = pd.DataFrame(history)
    frame.insert(0, "epoch", np.arange(1, len(frame) + 1))
    first = ["loss", "accuracy", "mae", "cross_entropy"]
    order = first + [f"val_{c}" for c in first]
    return frame[["epoch"] + [c for c in order if c in frame]]


def mean_history(histories: list) -> pd.DataFrame:
    """Per-epoch means across folds (the book's averaged K-fold curves); an epoch counts the folds that reached it."""
    return pd.concat(histories).groupby("epoch", as_index=False, sort=True).mean()


def diagnose(history: pd.DataFrame, tolerance: float, chance: float, metric: str = "accuracy",
             greater_is_better: bool = True) -> dict:
    """What the learning curves say: best epoch, whether it overfit, whether training failed.

    Overfitting: validation loss ended more than `tolerance` above its minimum, reached
    before the last epoch. Training failed: the training loss never fell below its first
    epoch's, or the training `metric` stayed near `chance` (the guessing level): within 5
    points of accuracy, or within 5% of the mean predictor's error.
    """
    best = int(history["val_loss"].idxmin())
    final = history.iloc[-1]
    overfit = best < len(history) - 1 and final["val_loss"] > (1 + tolerance) * history["val_loss"].min()
    if greater_is_better:
        near_chance = history[metric].max() <= chance + 0.05
        best_metric = history[f"val_{metric}"].max()
    else:
        near_chance = history[metric].min() >= 0.95 * chance
        best_metric = history[f"val_{metric}"].min()
    failed = history["loss"].min() >= history["loss"].iloc[0] or near_chance
    return {
        "epochs": len(history),
        "best_val_loss_epoch": int(history["epoch"].iloc[best]),
        "best_val_loss": history["val_loss"].iloc[best],
        f"best_val_{metric}": best_metric,
        "final_train_loss": final["loss"],
        f"final_train_{metric}": final[metric],
        "final_val_loss": final["val_loss"],
        f"final_val_{metric}": final[f"val_{metric}"],
        "overfit": bool(overfit),
        "training_failed": bool(failed),
    }


def fresh_model(seed: int, **architecture):
    """build_model(**architecture) seeded with `seed`, untrained: a kept one with that architecture and seed, reset
    to its starting weights, optimizer state and dropout seeds, else a new one. A model returned earlier may be
    that one and is reset too: use it before the next call."""
    seed_everything(seed)
    key = json.dumps([seed, architecture], sort_keys=True, default=str)
    if key in _built:
        model, start = _built[key]
        for variable, value in zip(training_state(model), start):
            variable.assign(value)
        return model
    while len(_built) >= KEPT_MODELS:
        del _built[next(iter(_built))]
    model = build_model(**architecture)
    model.optimizer.build(model.trainable_variables)
    _built[key] = model, [variable.numpy() for variable in training_state(model)]
    return model


def training_state(model) -> list:
    """Every variable training changes: weights, dropout seed generators, optimizer step and slots."""
    return [*model.variables, *model.optimizer.variables]


def fit_mlp(task: Task, train_xy, validation_xy, training, seed: int, units, l1=0.0, l2=0.0, dropout=0.0,
            patience=None, verbose: int = 2, cross_entropy: bool = False, epochs=None, monitor=None, callbacks=(),
            indexed=None):
    """Seed, build and train one model with the given training params; returns (model, history).

    `indexed`: the features' indexed columns (artifacts.read_indexed of the fold they come from), or None.
    `validation_xy` None trains without validation (a final model); `epochs` overrides the params'; the batch
    size is batch_size_for's. `callbacks` are more Keras callbacks.
    Early stopping (`patience`) watches `monitor`, by default the task's `stopping_metric`.
    The model is fresh_model's: use it before the next call with the same architecture and seed.
    """
    sparse = issparse(train_xy[0])
    regression = task.is_regression
    if regression:
        # Regression trains on standardized targets (a price of 180,000 and an L2 penalty of 0.002 are on
        # different scales otherwise), then gains a last layer that maps back to the target's units.
        center, scale = float(np.mean(train_xy[1])), float(np.std(train_xy[1])) or 1.0
        train_xy, validation_xy = [None if xy is None else (xy[0], (np.asarray(xy[1]) - center) / scale)
                                   for xy in (train_xy, validation_xy)]
    epochs = epochs or training.epochs
    batch_size = batch_size_for(training.batch_size, train_xy[0].shape[0])
    model = fresh_model(seed, n_features=train_xy[0].shape[1], task=task, units=list(units), optimizer=training.optimizer,
                        learning_rate=training.learning_rate, l1=l1, l2=l2, dropout=dropout, sparse=sparse,
                        cross_entropy=cross_entropy, indexed=indexed,
                        steps_per_execution=steps_per_execution(train_xy[0].shape[0], batch_size, epochs))
    history = train(model, train_xy, validation_xy, epochs, batch_size, seed, patience, verbose, callbacks,
                    monitor=monitor or (stopping_metric(task) if patience else None))
    if regression:
        return with_target_units(model, task, training, center, scale, sparse), in_target_units(history, scale)
    return model, history


def fit_candidate(task: Task, development_xy, candidate: dict, training, seed: int, verbose: int = 2, indexed=None):
    """A final model: the kept candidate (units, l1, l2, dropout, final_epochs, as models/regularized/candidate.json
    records it) trained on all development data (whose indexed columns are `indexed`) with `seed`."""
    model, _ = fit_mlp(task, development_xy, None, training, seed, candidate["units"], l1=candidate["l1"],
                       l2=candidate["l2"], dropout=candidate["dropout"], epochs=candidate["final_epochs"], verbose=verbose,
                       indexed=indexed)
    return model


def with_target_units(model, task: Task, training, center: float, scale: float, sparse: bool):
    """The trained layers followed by y * scale + center, compiled like the original for further training."""
    import keras

    scaled = keras.Sequential([keras.Input(shape=(model.input_shape[1],), sparse=sparse, name="features"),
                               *model.layers, keras.layers.Rescaling(scale, offset=center, name="target_units")],
                              name=model.name)
    scaled.compile(optimizer=make_optimizer(training.optimizer, training.learning_rate), loss=task.loss,
                   metrics=[task.training_metric], steps_per_execution=model.steps_per_execution)
    scaled.optimizer.build(scaled.trainable_variables)  # saved with its slots, so loading it warns of nothing
    return scaled


def in_target_units(history: pd.DataFrame, scale: float) -> pd.DataFrame:
    """A history on standardized targets in the target's units: squared errors times scale², absolute ones times scale."""
    history = history.copy()
    for column in history.columns:
        if column.endswith("loss"):
            history[column] *= scale ** 2
        elif column.endswith("mae"):
            history[column] *= scale
    return history


def final_epochs(best_epochs: list, early_stopping: bool, configured: int) -> int:
    """How long the final model trains on all development data: the median best epoch across
    folds when the folds stopped early, else the configured epochs."""
    return max(1, int(round(float(np.median(best_epochs))))) if early_stopping else configured


def select_candidate(results: dict, metric: str, greater_is_better: bool, tie_breaker: str) -> str:
    """The candidate with the best mean validation `metric`, ties going to the lower `tie_breaker`."""
    sign = 1 if greater_is_better else -1
    return max(results, key=lambda name: (sign * results[name][metric], -results[name][tie_breaker]))


def load_model(path):
    import keras

    import stages.lib.table_layer  # noqa: F401  (registers IndexedDense, which a table model may hold)

    if not os.path.exists(path):
        raise PipelineError(f"{path} is missing: run `dvc repro` to train it")
    return keras.models.load_model(path)
