"""Texts: one string per example (a CSV column or a folder of .txt files per class)."""
import hashlib

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix

from stages.lib import paths
from stages.lib.bad_request import BadRequest, check_utf8
from stages.lib.checks import HINTS, Check
from stages.lib.io import sha256_of_arrays, write_parquet
from stages.lib.kinds.base import Kind, raw_file, read_labels, read_raw_parquet, write_labels


def normalize_text(texts) -> list:
    """Case and whitespace folded: texts equal after this are near-duplicates."""
    return [" ".join(str(t).lower().split()) for t in texts]


def text_summary(x: np.ndarray) -> pd.DataFrame:
    """One row per text: its length in characters after trimming whitespace."""
    return pd.DataFrame({"example": np.arange(len(x)), "length": [len(str(t).strip()) for t in x]})


class TextFeatures:
    """Keras TextVectorization: multi-hot or TF-IDF over unigrams (or bigrams too), kept sparse.
    The fitted layer itself is the serving form (Texts.layers)."""

    # Rows encoded at a time: the layer's dense output for them stays small before it becomes CSR.
    CHUNK = 2048

    def __init__(self, output_mode: str, ngrams: int, max_tokens: int):
        self.output_mode, self.ngrams, self.max_tokens = output_mode, ngrams, max_tokens

    def fit(self, x):
        from keras import layers

        # Dense output, made sparse chunk by chunk below: the layer's own sparse=True fails on tf_idf.
        self.layer = layers.TextVectorization(max_tokens=self.max_tokens, output_mode=self.output_mode,
                                              ngrams=None if self.ngrams == 1 else self.ngrams)
        self.layer.adapt(np.asarray(x, dtype=str))
        return self

    def transform(self, x):
        from scipy.sparse import vstack

        texts = np.asarray(x, dtype=str)
        chunks = [csr_matrix(np.asarray(self.layer(texts[start:start + self.CHUNK]), dtype=np.float32))
                  for start in range(0, len(texts), self.CHUNK)]
        return vstack(chunks, format="csr") if chunks else csr_matrix((0, self.layer.vocabulary_size()), dtype=np.float32)

    def statistics(self) -> dict:
        statistics = {"kind": "text", "output_mode": self.output_mode, "ngrams": self.ngrams,
                      "vocabulary": [str(token) for token in self.layer.get_vocabulary()]}
        if self.output_mode == "tf_idf":
            # The fitted IDF weights, as the layer saves them in a .keras file (Layer.save_own_variables).
            store = {}
            self.layer.save_own_variables(store)
            statistics["idf_weights"] = np.asarray(store["idf_weights"])
        return statistics


class Texts(Kind):
    name, input = "text", "text"

    def write_raw(self, directory, x, y):
        write_parquet(raw_file(directory, paths.RAW_TEXTS), pd.DataFrame({"text": x.astype(str)}))
        write_labels(directory, y)

    def read_raw(self, directory):
        texts = read_raw_parquet(raw_file(directory, paths.RAW_TEXTS))["text"].to_numpy(dtype=object)
        return texts, read_labels(directory)

    def read_targets(self, directory):
        return read_labels(directory)

    def row_hashes(self, x):
        """Texts are hashed after folding case and whitespace, so near-duplicates hash alike."""
        return np.array([hashlib.sha256(text.encode()).hexdigest() for text in normalize_text(x)])

    def content_hash(self, x, y):
        """Of the texts exactly as collected."""
        encoded = [text.encode() for text in x]
        return sha256_of_arrays(np.frombuffer(b"".join(encoded), dtype=np.uint8),
                                np.array([len(e) for e in encoded]), y)

    def shape_and_dtype(self, x):
        return {"example_shape": [], "dtype": None}

    def schema_check(self, raw, x, value_range):
        import great_expectations.expectations as gxe

        return Check("schema_and_ranges", text_summary(x), [
            gxe.ExpectColumnValuesToBeBetween(column="length", min_value=1, notes=HINTS["empty_text"]),
        ], ["example"])

    def drift_features(self, x, columns):
        return ["length"], [np.array([len(str(t).split()) for t in x], dtype=np.float64)]

    def preprocessor(self, raw, vectorize, imdb_encoding):
        text = vectorize.text
        return TextFeatures(text.output_mode, text.ngrams, text.max_tokens)

    def layers(self, preprocessor, raw):
        import keras

        inputs = keras.Input(shape=(), dtype="string", name=self.input)
        return inputs, preprocessor.layer(inputs)

    def input_spec(self, statistics, raw):
        return {"name": self.input, "dtype": "string", "shape": [], "description": "one text as a string"}

    def raw_batch(self, x, spec):
        return np.array([str(text) for text in x], dtype=object)

    def parse(self, instances, spec):
        for index, instance in enumerate(instances):
            if not isinstance(instance, str):
                raise BadRequest(f"instance {index} is not a string: send one text per instance")
            check_utf8(instance, f"instance {index}")
        return np.asarray(instances, dtype=object)


KIND = Texts()
