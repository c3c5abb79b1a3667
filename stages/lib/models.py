"""Keras models: building, seeded training, and the overfitting diagnosis.

TensorFlow is imported inside the functions, so modules that only need the diagnosis
(or the tests of it) stay fast.
"""
import os

import numpy as np
import pandas as pd
from scipy.sparse import issparse

from stages.lib.errors import PipelineError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow and make TensorFlow's ops deterministic."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def build_model(n_features: int, task: dict, units, optimizer: str, learning_rate: float,
                l1: float = 0.0, l2: float = 0.0, dropout: float = 0.0, sparse: bool = False,
                cross_entropy: bool = False):
    """A densely connected classifier with the task's last layer and loss (ch. 4-6 of the book).

    With `sparse`, it takes scipy CSR inputs (multi-hot text) without ever densifying them.
    With `cross_entropy`, it also reports the plain cross-entropy (no weight penalties) per epoch.
    """
    import keras
    from keras import layers, regularizers

    regularizer = regularizers.L1L2(l1=l1, l2=l2) if (l1 or l2) else None
    model = keras.Sequential([keras.Input(shape=(n_features,), sparse=sparse)])
    for width in units:
        model.add(layers.Dense(width, activation="relu", kernel_regularizer=regularizer))
        if dropout:
            model.add(layers.Dropout(dropout))
    model.add(layers.Dense(task["output_units"], activation=task["last_layer_activation"]))
    optimizers = {"rmsprop": keras.optimizers.RMSprop, "adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD}
    metrics = ["accuracy"]
    if cross_entropy:
        kind = keras.metrics.BinaryCrossentropy if task["output_units"] == 1 else keras.metrics.SparseCategoricalCrossentropy
        metrics.append(kind(name="cross_entropy"))
    model.compile(optimizer=optimizers[optimizer](learning_rate=learning_rate), loss=task["loss"], metrics=metrics)
    return model


def train(model, train_xy, validation_xy, epochs: int, batch_size: int, patience=None, verbose: int = 2) -> pd.DataFrame:
    """Fit on the training split, watch the validation split; returns the per-epoch history.

    With `patience`, training stops once validation loss has not improved for that many
    epochs and the best weights are restored.
    """
    import keras

    callbacks = []
    if patience:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True))
    history = model.fit(*train_xy, validation_data=validation_xy, epochs=epochs, batch_size=batch_size,
                        callbacks=callbacks, verbose=verbose)
    return history_frame(history.history)


def history_frame(history: dict) -> pd.DataFrame:
    frame = pd.DataFrame(history)
    frame.insert(0, "epoch", np.arange(1, len(frame) + 1))
    columns = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]
    return frame[columns + [c for c in ("cross_entropy", "val_cross_entropy") if c in frame]]


def diagnose(history: pd.DataFrame, tolerance: float, chance_accuracy: float) -> dict:
    """What the learning curves say: best epoch, whether it overfit, whether training failed.

    Overfitting: validation loss ended more than `tolerance` above its minimum, reached
    before the last epoch. Training failed: the training loss never fell below its first
    epoch's, or training accuracy stayed within 5 points of always guessing the majority.
    """
    best = int(history["val_loss"].idxmin())
    final = history.iloc[-1]
    overfit = best < len(history) - 1 and final["val_loss"] > (1 + tolerance) * history["val_loss"].min()
    failed = (history["loss"].min() >= history["loss"].iloc[0]
              or history["accuracy"].max() <= chance_accuracy + 0.05)
    return {
        "epochs": len(history),
        "best_val_loss_epoch": int(history["epoch"].iloc[best]),
        "best_val_loss": history["val_loss"].iloc[best],
        "best_val_accuracy": history["val_accuracy"].max(),
        "final_train_loss": final["loss"],
        "final_train_accuracy": final["accuracy"],
        "final_val_loss": final["val_loss"],
        "final_val_accuracy": final["val_accuracy"],
        "overfit": bool(overfit),
        "training_failed": bool(failed),
    }


def predict_classes(probabilities: np.ndarray) -> np.ndarray:
    """Class labels from the last layer's output: sigmoid (n, 1) or softmax (n, k)."""
    if probabilities.shape[1] == 1:
        return (probabilities[:, 0] > 0.5).astype(np.int64)
    return probabilities.argmax(axis=1)


def fit_mlp(task: dict, train_xy, validation_xy, training, seed: int, units, l1=0.0, l2=0.0, dropout=0.0,
            patience=None, verbose: int = 2, cross_entropy: bool = False):
    """Seed, build and train one model with the given training params; returns (model, history)."""
    seed_everything(seed)
    model = build_model(train_xy[0].shape[1], task, units, training.optimizer, training.learning_rate,
                        l1=l1, l2=l2, dropout=dropout, sparse=issparse(train_xy[0]),
                        cross_entropy=cross_entropy)
    history = train(model, train_xy, validation_xy, training.epochs, training.batch_size, patience, verbose)
    return model, history


def select_candidate(results: dict, metric: str) -> str:
    """The candidate with the best validation `metric`, ties going to the lower validation log loss."""
    return max(results, key=lambda name: (results[name][metric], -results[name]["val_log_loss"]))


def load_model(path):
    import keras

    if not os.path.exists(path):
        raise PipelineError(f"{path} is missing: run `dvc repro` to train it")
    return keras.models.load_model(path)
