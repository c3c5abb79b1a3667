"""Token sequences: reviews as word indices of varying length (IMDB), see stages.lib.sequences."""
import numpy as np
import pandas as pd

from stages.lib import paths
from stages.lib.bad_request import BadRequest
from stages.lib.checks import HINTS, Check
from stages.lib.io import sha256_of_arrays, write_npz
from stages.lib.kinds.base import Kind, raw_file, read_raw_arrays
from stages.lib.sequences import Sequences

PAD_TOKEN = 0  # token id 0 pads sequences; the encodings of collect never produce it
TOKENS_SHOWN = 40  # the model card shows an example's first token ids


def pad(sequences: list) -> np.ndarray:
    """Token lists of any lengths to one int32 matrix, padded with PAD_TOKEN."""
    width = max((len(s) for s in sequences), default=0) or 1
    batch = np.full((len(sequences), width), PAD_TOKEN, dtype=np.int32)
    for row, sequence in enumerate(sequences):
        batch[row, :len(sequence)] = sequence
    return batch


def sequence_summary(x) -> pd.DataFrame:
    """One row per example of token ids: its length and smallest and largest id."""
    lengths = x.lengths
    nonempty = lengths > 0
    starts = x.offsets[:-1][nonempty]
    low = np.full(len(x), np.nan)
    high = np.full(len(x), np.nan)
    low[nonempty] = np.minimum.reduceat(x.tokens, starts)
    high[nonempty] = np.maximum.reduceat(x.tokens, starts)
    return pd.DataFrame({"example": np.arange(len(x)), "kind": x.tokens.dtype.kind, "length": lengths,
                         "min": low, "max": high})


class MultiHotSequences:
    """Token ids to sparse multi-hot rows; nothing to fit (the vocabulary is the dataset's)."""

    def __init__(self, n_features: int):
        self.n_features = n_features

    def fit(self, x):
        return self

    def transform(self, x):
        return x.multi_hot(self.n_features)

    def statistics(self) -> dict:
        return {"kind": "multi_hot", "n_features": self.n_features}


class TokenSequences(Kind):
    name, input = "sequences", "tokens"

    def write_raw(self, directory, x, y):
        write_npz(raw_file(directory, paths.RAW_DATA), tokens=x.tokens, offsets=x.offsets, y=y)

    def read_raw(self, directory):
        arrays = read_raw_arrays(raw_file(directory, paths.RAW_DATA), ["tokens", "offsets", "y"])
        return Sequences(arrays["tokens"], arrays["offsets"]), arrays["y"]

    def row_hashes(self, x):
        return x.hashes()

    def content_hash(self, x, y):
        return sha256_of_arrays(x.tokens, x.offsets, y)

    def schema_check(self, raw, x, value_range):
        import great_expectations.expectations as gxe

        low, high = value_range
        return Check("schema_and_ranges", sequence_summary(x), [
            gxe.ExpectColumnValuesToBeInSet(column="kind", value_set=["i", "u"], notes=HINTS["sequences"]),
            gxe.ExpectColumnValuesToBeBetween(column="length", min_value=1, notes=HINTS["sequences"]),
            gxe.ExpectColumnValuesToBeBetween(column="min", min_value=low, notes=HINTS["token_range"]),
            gxe.ExpectColumnValuesToBeBetween(column="max", max_value=high, notes=HINTS["token_range"]),
        ], ["example"])

    def drift_features(self, x, columns):
        return ["length"], [x.lengths.astype(np.float64)]

    def preprocessor(self, raw, vectorize, imdb_encoding):
        return MultiHotSequences(imdb_encoding.num_words)

    def layers(self, preprocessor, raw):
        import keras

        n = preprocessor.n_features
        inputs = keras.Input(shape=(None,), dtype="int32", name=self.input)
        x = keras.layers.CategoryEncoding(num_tokens=n, output_mode="multi_hot")(inputs)
        keep = np.ones(n, dtype=np.float32)
        keep[PAD_TOKEN] = 0.0  # padding is not a word
        return inputs, keras.layers.Rescaling(keep.tolist())(x)

    def input_spec(self, statistics, raw):
        n = statistics["n_features"]
        return {"name": self.input, "dtype": "int32", "shape": [None], "max_token": n - 1, "pad_token": PAD_TOKEN,
                "description": f"one review as word indices below {n} (collect's encoding); lists may differ in length"}

    def raw_batch(self, x, spec):
        if isinstance(x, Sequences):
            return pad([x.tokens[a:b] for a, b in zip(x.offsets[:-1], x.offsets[1:])])
        return pad(list(x))

    def as_instances(self, batch, spec):
        return [[int(t) for t in row if t != PAD_TOKEN] for row in batch]

    def parse(self, instances, spec):
        """Every instance a non-empty list of integer ids from 1 to the input's max_token."""
        max_token = spec["max_token"]
        for index, instance in enumerate(instances):
            if not isinstance(instance, list) or not instance:
                raise BadRequest(f"instance {index} is not a non-empty list of token ids")
            if not all(isinstance(t, int) and not isinstance(t, bool) for t in instance):
                raise BadRequest(f"instance {index} holds a token id that is not an integer")
            if not all(1 <= t <= max_token for t in instance):
                raise BadRequest(f"instance {index} holds a token id outside 1..{max_token}")
        return pad(instances)

    def as_raw(self, batch, spec):
        return Sequences.from_lists([row[row != PAD_TOKEN] for row in batch])

    def example_view(self, x, index):
        tokens = [int(t) for t in x[[index]].tokens]
        shown = " ".join(map(str, tokens[:TOKENS_SHOWN])) + (" …" if len(tokens) > TOKENS_SHOWN else "")
        return {"text": f"word indices: {shown} ({len(tokens)} tokens)"}


KIND = TokenSequences()
