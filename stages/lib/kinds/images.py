"""Images: fixed-shape arrays of pixel values (digits, MNIST)."""
import warnings

import numpy as np
import pandas as pd

from stages.lib.bad_request import BadRequest
from stages.lib.checks import HINTS, Check
from stages.lib.features import FLOAT32_MAX, affine, flatten, make_scaler, scaler_statistics
from stages.lib.kinds.base import Kind


def feature_summary(x: np.ndarray) -> pd.DataFrame:
    """One row per feature: its dtype kind, min, max and count of missing values."""
    flat = x.reshape(len(x), -1)
    values = flat.astype(np.float64) if np.issubdtype(flat.dtype, np.number) else np.full(flat.shape, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing feature has no min or max
        low, high = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
    return pd.DataFrame({
        "feature": [f"f{i}" for i in range(flat.shape[1])],
        "kind": flat.dtype.kind,
        "min": low,
        "max": high,
        "missing": np.isnan(values).sum(axis=0),
    })


class ImageFeatures:
    """Pixels flattened and normalized (standard, minmax or none) with one mean and scale for all pixels.

    The statistics pool every pixel of the training images, as the book's /255 does: scaling each
    pixel on its own blows up a border pixel that is ink in a handful of training images, and it
    changes the images' relative intensities. (On real MNIST, test accuracy is the same either way.)
    """

    def __init__(self, normalization: str):
        self.normalization = normalization

    def fit(self, x):
        flat = flatten(x, "the training split")
        self.width = flat.shape[1]
        self.scaler = make_scaler(self.normalization).fit(flat.reshape(-1, 1))
        return self

    def transform(self, x):
        flat = flatten(x, "a split")
        return np.asarray(self.scaler.transform(flat.reshape(-1, 1)), dtype=np.float32).reshape(flat.shape)

    def statistics(self) -> dict:
        """The pooled statistics repeated for every pixel, the shape export and serving read for any scaler."""
        stats = scaler_statistics(self.scaler, self.normalization)
        return {key: np.full(self.width, value[0]) if isinstance(value, np.ndarray) else value
                for key, value in stats.items()}


class Images(Kind):
    name, input = "images", "pixels"

    def schema_check(self, raw, x, value_range):
        import great_expectations.expectations as gxe

        low, high = value_range
        notes = HINTS["images"]
        return Check("schema_and_ranges", feature_summary(x), [
            gxe.ExpectTableRowCountToEqual(value=int(np.prod(raw["example_shape"])), notes=notes),
            gxe.ExpectColumnValuesToBeInSet(column="kind", value_set=["f", "i", "u"], notes=notes),
            gxe.ExpectColumnValuesToBeInSet(column="missing", value_set=[0], notes=notes),
            gxe.ExpectColumnValuesToBeBetween(column="min", min_value=low, notes=notes),
            gxe.ExpectColumnValuesToBeBetween(column="max", max_value=high, notes=notes),
        ], ["feature"])

    def drift_features(self, x, columns):
        flat = x.reshape(len(x), -1).astype(np.float64)
        return [f"f{i}" for i in range(flat.shape[1])], list(flat.T)

    def preprocessor(self, raw, vectorize, imdb_encoding):
        return ImageFeatures(vectorize.normalization)

    def layers(self, preprocessor, raw):
        import keras

        example_shape = raw["example_shape"]
        inputs = keras.Input(shape=tuple(example_shape), dtype="float32", name=self.input)
        x = keras.layers.Flatten()(inputs)
        stats = preprocessor.statistics()
        if stats["kind"] != "none":
            x = keras.layers.Rescaling(*affine(stats, int(np.prod(example_shape))))(x)
        return inputs, x

    def input_spec(self, statistics, raw):
        shape = list(raw["example_shape"])
        return {"name": self.input, "dtype": "float32", "shape": shape,
                "description": f"one image as a nested list of {'x'.join(map(str, shape))} pixel values"}

    def parse(self, instances, spec):
        """Every instance a nested list of finite numbers of exactly the input's shape."""
        shape = spec["shape"]
        for index, instance in enumerate(instances):
            try:
                array = np.asarray(instance, dtype=object)
            except ValueError:
                array = np.empty(0)
            if array.shape != tuple(shape):
                raise BadRequest(f"instance {index} has shape {list(array.shape)}, the model takes {shape}")
            values = array.ravel()
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                raise BadRequest(f"instance {index} holds a value that is not a number: send numbers only")
            if not all(abs(v) <= FLOAT32_MAX for v in values):  # also false for NaN
                raise BadRequest(f"instance {index} holds NaN, infinity or a number beyond float32: "
                                 "send finite numbers")
        return np.asarray(instances, dtype=np.float32)

    def example_view(self, x, index):
        return {"pixels": x[index]}


KIND = Images()
