"""Export: the chosen model behind its preprocessing, as Keras layers, so raw inputs go in and
predictions come out, in the Keras format and as a TensorFlow SavedModel for serving.
"""
import hashlib
from pathlib import Path

import numpy as np

from stages.lib.errors import PipelineError
from stages.lib.kinds import kind_of, kind_of_input
from stages.lib.task import Task


def preprocessing_model(preprocessor, raw: dict):
    """The fitted preprocessing as a Keras model from raw inputs to the features vectorize computes, built
    from the preprocessor's fitted statistics (vectorize saves it next to the features for export)."""
    import keras

    kind = kind_of(raw)
    reason = kind.unservable(preprocessor.statistics())
    if reason:
        raise PipelineError(reason)
    inputs, features = kind.layers(preprocessor, raw)
    return keras.Model(inputs, features, name="preprocessing")


def load_preprocessing(path, raw: dict):
    """The preprocessing model vectorize saved (preprocessing_model's), for the data `raw` describes."""
    import keras

    if not Path(path).exists():
        raise PipelineError(f"{path} is missing: run `dvc repro vectorize`")
    return keras.saving.load_model(path, custom_objects=kind_of(raw).custom_layers())


def inference_model(preprocessing, trained, statistics: dict, raw: dict, task: Task):
    """(Keras model from raw inputs to the trained model's outputs, a description of its input and output).

    `preprocessing` is preprocessing_model's, `statistics` the preprocessor's (preprocessing.json)."""
    import keras

    model = keras.Model(preprocessing.input, trained(preprocessing.output), name="inference")
    output = {"kind": "regression" if task.is_regression else "probabilities",
              "classes": None if task.is_regression else list(task.classes),
              "units": task.output_units}
    if task.is_binary:
        output["description"] = f"the probability of class {task.classes[1]!r} (sigmoid)"
    return model, {"input": kind_of(raw).input_spec(statistics, raw), "output": output}


def raw_batch(x, spec: dict):
    """Raw examples (as collect wrote them) in the form the inference model takes."""
    return kind_of_input(spec).raw_batch(x, spec)


def as_instances(batch, spec: dict) -> list:
    """A model input batch as the JSON instances a client sends (padding dropped, NaN as null)."""
    return kind_of_input(spec).as_instances(batch, spec)


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


# The SavedModel's serve() takes one batch: the test split goes through it this many examples at a time, so that
# its preprocessing's intermediate one-hot columns stay small (200,000 rows at once took 3.6 GB).
SERVE_BATCH = 4096


def output_gaps(folder, model, inputs, expected: np.ndarray) -> dict:
    """Largest |difference| from `expected` of the Keras model and of the SavedModel written in `folder`."""
    import tensorflow as tf

    saved = tf.saved_model.load(str(folder / "saved_model"))  # kept in a name: its variables live with it
    rows = len(expected)
    served = [saved.serve(batch_rows(inputs, start, start + SERVE_BATCH)).numpy()
              for start in range(0, rows, SERVE_BATCH)]
    outputs = {"keras": model.predict(inputs, verbose=0),
               "saved_model": np.concatenate(served) if served else np.zeros_like(expected)}
    return {artifact: float(np.max(np.abs(output - expected))) if rows else 0.0
            for artifact, output in outputs.items()}


def batch_rows(inputs, start: int, stop: int):
    """Rows start..stop of a raw batch: an array, or a table's dict of one array per column."""
    if isinstance(inputs, dict):
        return {name: values[start:stop] for name, values in inputs.items()}
    return inputs[start:stop]


def output_scale(expected: np.ndarray) -> float:
    """What float32 rounding of the outputs scales with: their largest magnitude, at least 1
    (so probabilities keep an absolute bound)."""
    return max(1.0, float(np.max(np.abs(expected)))) if np.size(expected) else 1.0


def parity_sample(examples: int, max_examples, seed: int) -> np.ndarray:
    """The positions of the test examples the parity check runs on: all, or a seeded random sample of
    max_examples of them, in their order."""
    if max_examples is None or examples <= max_examples:
        return np.arange(examples)
    return np.sort(np.random.default_rng(seed).choice(examples, max_examples, replace=False))


def checked_examples(checked: int, examples: int) -> str:
    """How many test examples the parity check ran on, in words."""
    return str(examples) if checked == examples else f"a seeded sample of {checked:,} of the {examples:,}"


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
