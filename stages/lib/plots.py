"""PNG figures for people; DVC renders its own plots from the CSV files."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from stages.lib.io import atomic_path  # noqa: E402


def learning_curves_png(path, histories: dict, metric: str) -> None:
    """Training (dashed) and validation (solid) loss and `metric` per epoch, one colour per model."""
    figure, (loss_axis, metric_axis) = plt.subplots(1, 2, figsize=(11, 4))
    for (name, history), colour in zip(histories.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        for axis, column in ((loss_axis, "loss"), (metric_axis, metric)):
            axis.plot(history["epoch"], history[column], "--", color=colour, label=f"{name} training")
            axis.plot(history["epoch"], history[f"val_{column}"], "-", color=colour, label=f"{name} validation")
    for axis, label in ((loss_axis, "Loss"), (metric_axis, metric.upper() if metric == "mae" else metric.title())):
        axis.set_xlabel("Epochs")
        axis.set_ylabel(label)
        axis.legend()
        axis.set_title(f"Training and validation {label.lower() if label != 'MAE' else label} (mean over folds)")
    _save(figure, path)


def predictions_png(path, y_true: np.ndarray, predicted: np.ndarray, classes, title: str) -> None:
    """A confusion matrix for classes, or predicted against actual values for regression."""
    from sklearn.metrics import ConfusionMatrixDisplay, PredictionErrorDisplay

    figure, axis = plt.subplots(figsize=(6, 5.5))
    if classes:
        ConfusionMatrixDisplay.from_predictions(y_true, predicted, labels=classes, ax=axis, colorbar=False)
    else:
        PredictionErrorDisplay.from_predictions(y_true, predicted, kind="actual_vs_predicted", ax=axis)
    axis.set_title(title)
    _save(figure, path)


def _save(figure, path) -> None:
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)


def study_png(path, histories: dict, title: str) -> None:
    """Validation loss and accuracy per epoch of each variant of a study, training dashed."""
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(11, 4))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for (name, history), colour in zip(histories.items(), colours):
        for axis, metric in ((loss_axis, "cross_entropy"), (accuracy_axis, "accuracy")):
            axis.plot(history["epoch"], history[metric], "--", color=colour, alpha=0.6, label=f"{name} training")
            axis.plot(history["epoch"], history[f"val_{metric}"], "-", color=colour, label=f"{name} validation")
    loss_axis.set_ylabel("Cross-entropy")
    accuracy_axis.set_ylabel("Accuracy")
    for axis in (loss_axis, accuracy_axis):
        axis.set_xlabel("Epochs")
        if histories:  # a study that does not apply has no curves to name
            axis.legend(fontsize=7)
    figure.suptitle(title)
    _save(figure, path)
