"""Monitoring: a batch of new inputs against the data the model was trained on, as TFDV compares them.

Numeric features (pixels, table columns, sequence or text lengths) by the Jensen-Shannon
divergence of their histograms; categorical table columns by L-infinity distance (the largest
difference in any category's share); the classes the model predicts for the batch against
those it predicts for the training data by L-infinity distance too; for regression, the
predicted values by Jensen-Shannon divergence. Comparing predictions with predictions, not
with the labels, keeps the model's own errors out of the drift.
"""
import numpy as np

from stages.lib.drift import js_divergence, linf_distance
from stages.lib.kinds import kind_named
from stages.lib.task import Task


def predicted_labels(task: Task, outputs: np.ndarray) -> np.ndarray:
    """Predicted values (regression) or class indices, as collect encodes the targets."""
    from stages.lib.evaluation import predict_classes

    return outputs[:, 0] if task.is_regression else predict_classes(outputs)


def as_raw(kind: str, batch, spec: dict):
    """A served batch back in the form collect writes (Sequences for padded token ids, a frame for tables)."""
    return kind_named(kind).as_raw(batch, spec)


def measure_drift(kind: str, reference_x, new_x, reference_predicted: np.ndarray, predicted: np.ndarray,
                  task: Task, max_js: float, max_linf: float, columns: dict = None) -> dict:
    """One row per feature (measure, value, threshold, drifted), most drifted first, and the drifted names.

    `new_x` is in collect's form (see as_raw); `columns` are a table's column roles."""
    kind = kind_named(kind)
    names, reference = kind.drift_features(reference_x, columns)
    _, current = kind.drift_features(new_x, columns)
    rows = [{"feature": name, "measure": "jensen_shannon", "value": js_divergence(reference[i], current[i]),
             "threshold": max_js} for i, name in enumerate(names)]
    current_categories = kind.drift_categories(new_x, columns)
    for column, values in kind.drift_categories(reference_x, columns).items():
        rows.append({"feature": column, "measure": "l_infinity", "threshold": max_linf,
                     "value": linf_distance(values, current_categories[column])})
    if task.is_regression:
        rows.append({"feature": "prediction", "measure": "jensen_shannon",
                     "value": js_divergence(reference_predicted.astype(np.float64), predicted.astype(np.float64)),
                     "threshold": max_js})
    else:
        rows.append({"feature": "predicted_class", "measure": "l_infinity",
                     "value": linf_distance(reference_predicted, predicted), "threshold": max_linf})
    for row in rows:
        row["value"] = round(row["value"], 6)
        row["drifted"] = bool(row["value"] > row["threshold"])
    rows.sort(key=lambda row: (not row["drifted"], -row["value"] / row["threshold"]))
    return {"examples": len(predicted), "reference_examples": len(reference_predicted),
            "drifted": [row["feature"] for row in rows if row["drifted"]], "features": rows}
