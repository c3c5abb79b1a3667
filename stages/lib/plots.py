"""PNG figures for people; DVC renders its own plots from the CSV files."""
import io

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


# Each form's two panels of a study's figure: (the history's column, axis label).
STUDY_PANELS = {"classification": (("cross_entropy", "Cross-entropy"), ("accuracy", "Accuracy")),
                "regression": (("loss", "Loss (MSE, weight penalties included)"), ("mae", "MAE"))}


def study_png(path, histories: dict, title: str, form: str = "classification") -> None:
    """Validation loss and accuracy (regression: loss and MAE) per epoch of each variant of a study, training
    dashed."""
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for (name, history), colour in zip(histories.items(), colours):
        for axis, (metric, _) in zip(axes, STUDY_PANELS[form]):
            axis.plot(history["epoch"], history[metric], "--", color=colour, alpha=0.6, label=f"{name} training")
            axis.plot(history["epoch"], history[f"val_{metric}"], "-", color=colour, label=f"{name} validation")
    for axis, (_, label) in zip(axes, STUDY_PANELS[form]):
        axis.set_ylabel(label)
        axis.set_xlabel("Epochs")
        if histories:  # a study that does not apply has no curves to name
            axis.legend(fontsize=7)
    figure.suptitle(title)
    _save(figure, path)


def png_bytes(figure, dpi: int = 80) -> bytes:
    """A figure as PNG bytes (for inlining in a page), without the date or version metadata."""
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def candidate_curves_png(histories, metric: str) -> bytes:
    """Validation loss and `metric` per epoch of each regularization candidate (rows of a `candidate` column)."""
    figure, (loss_axis, metric_axis) = plt.subplots(1, 2, figsize=(10, 3.6))
    for name, history in histories.groupby("candidate", sort=False):
        loss_axis.plot(history["epoch"], history["val_loss"], label=name)
        metric_axis.plot(history["epoch"], history[f"val_{metric}"], label=name)
    for axis, label in ((loss_axis, "Validation loss"), (metric_axis, f"Validation {metric}")):
        axis.set_xlabel("Epochs")
        axis.set_ylabel(label)
        axis.legend(fontsize=8)
    return png_bytes(figure)


def residuals_png(actual: np.ndarray, predicted: np.ndarray) -> bytes:
    """Residuals (actual - predicted) against the prediction, and their histogram."""
    residuals = np.asarray(actual, dtype=float) - np.asarray(predicted, dtype=float)
    figure, (scatter_axis, histogram_axis) = plt.subplots(1, 2, figsize=(10, 3.6))
    scatter_axis.scatter(predicted, residuals, s=8, alpha=0.6)
    scatter_axis.axhline(0, color="black", linewidth=0.8)
    scatter_axis.set_xlabel("Predicted value")
    scatter_axis.set_ylabel("Residual (actual - predicted)")
    histogram_axis.hist(residuals, bins=30)
    histogram_axis.set_xlabel("Residual (actual - predicted)")
    histogram_axis.set_ylabel("Test examples")
    return png_bytes(figure)


def image_png(pixels: np.ndarray) -> bytes:
    """One grayscale example image, one PNG pixel per image pixel (the page scales it up)."""
    buffer = io.BytesIO()
    plt.imsave(buffer, np.asarray(pixels, dtype=float), cmap="gray_r", format="png", metadata={"Software": None})
    return buffer.getvalue()
