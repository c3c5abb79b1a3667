"""Export: the chosen model behind its preprocessing, as Keras layers, so raw inputs go in and
predictions come out, in the Keras format and as a TensorFlow SavedModel for serving.
"""
import numpy as np

from stages.lib.errors import PipelineError
from stages.lib.features import ImageFeatures, MultiHotSequences, TextFeatures
from stages.lib.sequences import Sequences

PAD_TOKEN = 0  # token id 0 pads sequences; the encodings of collect never produce it


def _image_layers(preprocessor: ImageFeatures, example_shape: list):
    import keras

    inputs = keras.Input(shape=tuple(example_shape), dtype="float32", name="pixels")
    x = keras.layers.Flatten()(inputs)
    stats = preprocessor.statistics()
    # StandardScaler is x * (1/scale) - mean/scale; MinMaxScaler is x * scale + min: both affine.
    if stats["kind"] == "standard":
        scale = 1.0 / np.asarray(stats["scale"], dtype=np.float64)
        x = keras.layers.Rescaling(scale.tolist(), (-np.asarray(stats["mean"]) * scale).tolist())(x)
    elif stats["kind"] == "minmax":
        x = keras.layers.Rescaling(np.asarray(stats["scale"]).tolist(), np.asarray(stats["min"]).tolist())(x)
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


def inference_model(preprocessor, trained, manifest: dict, task: dict):
    """(Keras model from raw inputs to the trained model's outputs, a description of its input and output)."""
    import keras

    if isinstance(preprocessor, ImageFeatures):
        inputs, features, spec = _image_layers(preprocessor, manifest["example_shape"])
    elif isinstance(preprocessor, MultiHotSequences):
        inputs, features, spec = _sequence_layers(preprocessor)
    elif isinstance(preprocessor, TextFeatures):
        inputs, features, spec = _text_layers(preprocessor)
    else:
        raise PipelineError(f"export of {manifest['kind']} data is not supported yet: the serving model needs its "
                            "preprocessing as Keras layers; images, token sequences and texts have them")
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
    return np.asarray(x, dtype=np.float32)


def pad(sequences: list) -> np.ndarray:
    """Token lists of any lengths to one int32 matrix, padded with PAD_TOKEN."""
    width = max((len(s) for s in sequences), default=0) or 1
    batch = np.full((len(sequences), width), PAD_TOKEN, dtype=np.int32)
    for row, sequence in enumerate(sequences):
        batch[row, :len(sequence)] = sequence
    return batch


def write_export(folder, model, signature: dict) -> None:
    """The Keras file, the SavedModel (its `serve` endpoint) and signature.json in `folder`."""
    from stages.lib.io import write_json

    model.save(folder / "model.keras")
    model.export(str(folder / "saved_model"), verbose=False)
    write_json(folder / "signature.json", signature)


def output_gaps(folder, model, inputs, expected: np.ndarray) -> dict:
    """Largest |difference| from `expected` of the Keras model and of the SavedModel written in `folder`."""
    import tensorflow as tf

    saved = tf.saved_model.load(str(folder / "saved_model"))  # kept in a name: its variables live with it
    outputs = {"keras": model.predict(inputs, verbose=0), "saved_model": saved.serve(inputs).numpy()}
    return {artifact: float(np.max(np.abs(output - expected))) for artifact, output in outputs.items()}
