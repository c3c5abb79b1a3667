"""Export: the chosen model behind its preprocessing, as Keras layers, so raw inputs go in and
predictions come out, in the Keras format and as a TensorFlow SavedModel for serving.
"""
import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd

from stages.lib.errors import PipelineError
from stages.lib.features import MISSING_CATEGORY, ImageFeatures, MultiHotSequences, TableFeatures, TextFeatures
from stages.lib.sequences import Sequences

PAD_TOKEN = 0  # token id 0 pads sequences; the encodings of collect never produce it


def affine(scaler: dict, width: int) -> tuple:
    """(scale, offset) lists that redo a fitted scaler as x * scale + offset.

    StandardScaler is x * (1/scale) - mean/scale; MinMaxScaler is x * scale + min; none is x.
    """
    if scaler["kind"] == "standard":
        scale = 1.0 / np.asarray(scaler["scale"], dtype=np.float64)
        return scale.tolist(), (-np.asarray(scaler["mean"]) * scale).tolist()
    if scaler["kind"] == "minmax":
        return np.asarray(scaler["scale"]).tolist(), np.asarray(scaler["min"]).tolist()
    return [1.0] * width, [0.0] * width


def _image_layers(preprocessor: ImageFeatures, example_shape: list):
    import keras

    inputs = keras.Input(shape=tuple(example_shape), dtype="float32", name="pixels")
    x = keras.layers.Flatten()(inputs)
    stats = preprocessor.statistics()
    if stats["kind"] != "none":
        x = keras.layers.Rescaling(*affine(stats, int(np.prod(example_shape))))(x)
    spec = {"name": "pixels", "dtype": "float32", "shape": list(example_shape),
            "description": f"one image as a nested list of {'x'.join(map(str, example_shape))} pixel values"}
    return inputs, x, spec


def _sequence_layers(preprocessor: MultiHotSequences):
    import keras

    n = preprocessor.n_features
    inputs = keras.Input(shape=(None,), dtype="int32", name="tokens")
    x = keras.layers.CategoryEncoding(num_tokens=n, output_mode="multi_hot")(inputs)
    keep = np.ones(n, dtype=np.float32)
    keep[PAD_TOKEN] = 0.0  # padding is not a word
    x = keras.layers.Rescaling(keep.tolist())(x)
    spec = {"name": "tokens", "dtype": "int32", "shape": [None], "max_token": n - 1, "pad_token": PAD_TOKEN,
            "description": f"one review as word indices below {n} (collect's encoding); lists may differ in length"}
    return inputs, x, spec


def _text_layers(preprocessor: TextFeatures):
    import keras

    inputs = keras.Input(shape=(), dtype="string", name="text")
    spec = {"name": "text", "dtype": "string", "shape": [], "description": "one text as a string"}
    return inputs, preprocessor.layer(inputs), spec


def input_names(columns: list) -> list:
    """SavedModel-safe input names for table columns ("mean radius" -> "mean_radius"), unique."""
    names = []
    for column in columns:
        name = re.sub(r"[^A-Za-z0-9_]", "_", str(column))
        name = name if re.match(r"[A-Za-z]", name) else f"c_{name}"
        while name in names:
            name += "_"
        names.append(name)
    return names


def _table_layers(preprocessor: TableFeatures):
    import keras

    from stages.lib.table_layer import TablePreprocessing

    stats = preprocessor.statistics()
    if stats["imputation"] != "median":
        raise PipelineError(f"export of vectorize.imputation: {stats['imputation']} is not supported: KNN imputation "
                            "needs the training rows at serving time; set vectorize.imputation: median")
    numeric, categorical = stats["numeric"], stats["categorical"]
    names = input_names(numeric + categorical)
    dtypes = ["float32"] * len(numeric) + ["string"] * len(categorical)
    inputs = {name: keras.Input(shape=(), dtype=dtype, name=name) for name, dtype in zip(names, dtypes)}
    scale, offset = affine(stats["scaler"], len(numeric))
    layer = TablePreprocessing(medians=[float(stats["medians"][c]) for c in numeric], scale=scale, offset=offset,
                               indicators=[numeric.index(c) for c in stats["missing_indicators"]],
                               categories=[[str(v) for v in stats["categories"][c]] for c in categorical])
    features = layer([inputs[name] for name in names])
    spec = {"name": "columns", "dtype": "mixed", "shape": [],
            "columns": [{"column": str(c), "input": n, "dtype": d}
                        for c, n, d in zip(numeric + categorical, names, dtypes)],
            "categories": {str(c): [str(v) for v in stats["categories"][c]] for c in categorical},
            "description": "one row as a JSON object of column: value; null for a missing value"}
    return inputs, features, spec


def inference_model(preprocessor, trained, manifest: dict, task: dict):
    """(Keras model from raw inputs to the trained model's outputs, a description of its input and output)."""
    import keras

    if isinstance(preprocessor, ImageFeatures):
        inputs, features, spec = _image_layers(preprocessor, manifest["example_shape"])
    elif isinstance(preprocessor, MultiHotSequences):
        inputs, features, spec = _sequence_layers(preprocessor)
    elif isinstance(preprocessor, TextFeatures):
        inputs, features, spec = _text_layers(preprocessor)
    elif isinstance(preprocessor, TableFeatures):
        inputs, features, spec = _table_layers(preprocessor)
        # Columns of the user's file that the model does not read: a served row may carry them, unread.
        spec["ignored"] = sorted(manifest.get("excluded") or {}) + [c for c in [manifest.get("time_column")] if c]
    else:
        raise PipelineError(f"export of {manifest['kind']} data is not supported: the serving model needs its "
                            "preprocessing as Keras layers")
    model = keras.Model(inputs, trained(features), name="inference")
    regression = task["problem_type"] == "regression"
    output = {"kind": "regression" if regression else "probabilities",
              "classes": None if regression else task["classes"],
              "units": task["output_units"]}
    if task["output_units"] == 1 and not regression:
        output["description"] = f"the probability of class {task['classes'][1]!r} (sigmoid)"
    return model, {"input": spec, "output": output}


def raw_batch(x, spec: dict):
    """Raw examples (as collect wrote them) in the form the inference model takes."""
    if spec["name"] == "tokens":
        if isinstance(x, Sequences):
            return pad([x.tokens[a:b] for a, b in zip(x.offsets[:-1], x.offsets[1:])])
        return pad(list(x))
    if spec["name"] == "text":
        return np.array([str(text) for text in x], dtype=object)
    if spec["name"] == "columns":
        return {c["input"]: (x[c["column"]].to_numpy(dtype=np.float32) if c["dtype"] == "float32" else
                             x[c["column"]].astype(object).where(x[c["column"]].notna(), MISSING_CATEGORY)
                             .astype(str).to_numpy(dtype=object))
                for c in spec["columns"]}
    return np.asarray(x, dtype=np.float32)


def as_instances(batch, spec: dict) -> list:
    """A model input batch as the JSON instances a client sends (padding dropped, NaN as null)."""
    if spec["name"] == "columns":
        n = len(next(iter(batch.values())))
        return [{c["column"]: _json_value(batch[c["input"]][i]) for c in spec["columns"]} for i in range(n)]
    if spec["name"] == "tokens":
        return [[int(t) for t in row if t != PAD_TOKEN] for row in batch]
    return batch.tolist()


def _json_value(value):
    if isinstance(value, str):
        return value
    return None if np.isnan(value) else float(value)


def table_frame(batch: dict, spec: dict) -> pd.DataFrame:
    """A served table batch back under its column names, as collect writes tables."""
    return pd.DataFrame({c["column"]: batch[c["input"]] for c in spec["columns"]})


def pad(sequences: list) -> np.ndarray:
    """Token lists of any lengths to one int32 matrix, padded with PAD_TOKEN."""
    width = max((len(s) for s in sequences), default=0) or 1
    batch = np.full((len(sequences), width), PAD_TOKEN, dtype=np.int32)
    for row, sequence in enumerate(sequences):
        batch[row, :len(sequence)] = sequence
    return batch


def write_export(folder, model, signature: dict) -> None:
    """The Keras file, the SavedModel (its `serve` endpoint) and signature.json in `folder`, each
    byte-identical for the same model."""
    from stages.lib.io import save_keras_model, write_json

    save_keras_model(model, folder / "model.keras")
    export_saved_model(model, folder / "saved_model")
    write_json(folder / "signature.json", signature)


def export_saved_model(model, path) -> None:
    """What model.export(path) writes, with the variables in the same order on every run.

    Keras 3.15 (keras/src/export/saved_model_export_archive.py, _filter_and_track_resources) tracks
    the variables an endpoint uses in the order of a TensorFlow set, i.e. of memory addresses, so
    variables.index/.data and saved_model.pb came out in a different order each run. Ordering them
    by name after Keras lists them is the fix. All reliance on Keras' private export API is here
    (also the input signature model.export computes); Keras is pinned in requirements.txt.
    """
    from keras.src.backend.tensorflow.export import TFExportArchive
    from keras.src.export.export_utils import get_input_signature

    class OrderedExportArchive(TFExportArchive):
        def _filter_and_track_resources(self):
            super()._filter_and_track_resources()
            self._tf_trackable._all_variables = sorted(self._tf_trackable._all_variables, key=lambda v: v.name)

    archive = OrderedExportArchive()
    archive.track_and_add_endpoint("serve", model, get_input_signature(model))
    archive.write_out(str(path), verbose=False)
    _content_derived_uuid(Path(path) / "fingerprint.pb")


def _content_derived_uuid(path) -> None:
    """TensorFlow gives each SavedModel's fingerprint.pb a random uuid; make it a hash of the
    fingerprint's other fields (checksums of saved_model.pb and of the variables) instead."""
    from tensorflow.core.protobuf import fingerprint_pb2

    from stages.lib.io import atomic_path

    fingerprint = fingerprint_pb2.FingerprintDef.FromString(path.read_bytes())
    fingerprint.ClearField("uuid")
    digest = hashlib.sha256(fingerprint.SerializeToString(deterministic=True)).digest()
    fingerprint.uuid = str(int.from_bytes(digest[:16], "big"))  # as TensorFlow writes it: 128 bits in decimal
    with atomic_path(path) as tmp:
        tmp.write_bytes(fingerprint.SerializeToString(deterministic=True))


def output_gaps(folder, model, inputs, expected: np.ndarray) -> dict:
    """Largest |difference| from `expected` of the Keras model and of the SavedModel written in `folder`."""
    import tensorflow as tf

    saved = tf.saved_model.load(str(folder / "saved_model"))  # kept in a name: its variables live with it
    outputs = {"keras": model.predict(inputs, verbose=0), "saved_model": saved.serve(inputs).numpy()}
    return {artifact: float(np.max(np.abs(output - expected))) for artifact, output in outputs.items()}


def output_scale(expected: np.ndarray) -> float:
    """What float32 rounding of the outputs scales with: their largest magnitude, at least 1
    (so probabilities keep an absolute bound)."""
    return max(1.0, float(np.max(np.abs(expected)))) if np.size(expected) else 1.0


def check_parity(gaps: dict, expected: np.ndarray, limit: float) -> dict:
    """Each artifact's largest difference from the trained model relative to the output scale;
    a PipelineError when one is over `limit` (export.max_output_difference)."""
    scale = output_scale(expected)
    relative = {artifact: gap / scale for artifact, gap in gaps.items()}
    for artifact, difference in relative.items():
        if not difference <= limit:
            raise PipelineError(
                f"the exported {artifact} model differs from the trained model by {gaps[artifact]:.3g} on the raw test "
                f"examples, {difference:.3g} of the outputs' scale {scale:.6g}, over export.max_output_difference "
                f"{limit}: the preprocessing layers disagree with vectorize; nothing was exported")
    return relative
