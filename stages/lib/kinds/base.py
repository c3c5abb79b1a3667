"""The interface every data kind implements (stages/lib/kinds/ has one module per kind)."""
import hashlib
from pathlib import Path
from typing import Optional

import numpy as np

from stages.lib import paths
from stages.lib.errors import PipelineError
from stages.lib.io import read_npz, read_parquet, read_parquet_rows, sha256_of_arrays, write_npz


class Kind:
    """How one kind of raw data (as collect writes it) is validated, vectorized, exported, served and monitored.

    `raw` is collect's manifest, `columns` its column roles (tables), `spec` the exported model's input as
    signature.json describes it. A method with a default here is one most kinds need not change.
    """

    name = ""  # the manifest's "kind"
    input = ""  # the input's name in signature.json, by which the server finds the kind
    # collect.deduplicate: auto. Two identical images or texts are one example collected twice; two identical
    # table rows are usually two observations (passengers of the same sex, class and age who shared a fate).
    repeats_are_copies = True

    # collect: data/raw, which every later stage reads (stages.lib.artifacts.read_raw)
    def write_raw(self, directory, x, y: np.ndarray) -> None:
        """The examples and their targets as files in `directory`: arrays in one npz."""
        write_npz(raw_file(directory, paths.RAW_DATA), x=x, y=y)

    def read_raw(self, directory) -> tuple:
        """(x, y) as write_raw wrote them."""
        arrays = read_raw_arrays(raw_file(directory, paths.RAW_DATA), ["x", "y"])
        return arrays["x"], arrays["y"]

    def read_targets(self, directory) -> np.ndarray:
        """y as write_raw wrote it, without the examples where they are kept apart (tables, texts)."""
        return self.read_raw(directory)[1]

    def take(self, x, indices):
        """The examples at `indices`, in the same form as x."""
        return x[indices]

    def read_examples(self, directory, indices):
        """take(x, indices) of the raw examples, reading no more of them than needed where the kind can."""
        return self.take(self.read_raw(directory)[0], indices)

    def row_hashes(self, x) -> np.ndarray:
        """One hash per example: identical content, identical hash (deduplication and leakage checks)."""
        rows = np.ascontiguousarray(x).reshape(len(x), -1)
        return np.array([hashlib.sha256(row.tobytes()).hexdigest() for row in rows])

    def content_hash(self, x, y: np.ndarray) -> str:
        """The manifest's sha256 of the examples and targets."""
        return sha256_of_arrays(x, y)

    def shape_and_dtype(self, x) -> dict:
        """The manifest's example_shape and dtype."""
        return {"example_shape": list(x.shape[1:]), "dtype": str(x.dtype)}

    # validate
    def schema_check(self, raw: dict, x, value_range: tuple):
        """A validation.Check: one summary row per feature or example, and the expectations it must meet."""
        raise NotImplementedError

    def extra_checks(self, raw: dict, x, y: np.ndarray, split: dict, settings, seed: int) -> list:
        """Further validation.Checks only this kind has."""
        return []

    # validate and monitor
    def drift_features(self, x, columns: Optional[dict]) -> tuple:
        """(names, columns): the numbers whose drift is measured, one float64 array per name."""
        raise NotImplementedError

    def drift_categories(self, x, columns: Optional[dict]) -> dict:
        """{name: array of strings} of the categorical features whose proportions are compared."""
        return {}

    # vectorize
    def preprocessor(self, raw: dict, vectorize, imdb_encoding):
        """The unfitted preprocessing: fit(x) -> self, transform(x) -> float32 features, statistics() -> JSON."""
        raise NotImplementedError

    def fit_preprocessor(self, preprocessor, x, rows):
        """The preprocessor fitted on the examples at `rows` (a table's, without copying them)."""
        return preprocessor.fit(self.take(x, rows))

    def unservable(self, statistics: dict) -> Optional[str]:
        """Why a model on this preprocessing cannot be exported (a one-line error), or None."""
        return None

    # vectorize (the serving form of the fitted preprocessing) and export
    def layers(self, preprocessor, raw: dict) -> tuple:
        """(Keras inputs, Keras features): the fitted preprocessing as layers, from its fitted statistics."""
        raise NotImplementedError

    def custom_layers(self) -> dict:
        """{name: class} of the project's own Keras layers that `layers` uses, which loading a saved model needs."""
        return {}

    def input_spec(self, statistics: dict, raw: dict) -> dict:
        """The exported model's input for signature.json: name, dtype, shape, description."""
        raise NotImplementedError

    def raw_batch(self, x, spec: dict):
        """Raw examples (as collect wrote them) in the form the exported model takes."""
        return np.asarray(x, dtype=np.float32)

    def as_instances(self, batch, spec: dict) -> list:
        """A model input batch as the JSON instances a client sends."""
        return batch.tolist()

    # serve and monitor
    def parse(self, instances: list, spec: dict):
        """A request's instances as the model's input batch, or serving.BadRequest naming what is wrong."""
        raise NotImplementedError

    def as_raw(self, batch, spec: dict):
        """A served batch back in the form collect writes (what drift_features reads)."""
        return batch

    # the model card
    def example_view(self, x, index: int) -> dict:
        """What the model card shows of example `index`: {"text": str} quoted, {"pixels": array} drawn, or
        {"cells": [(column, value)]} as a table row (model_card.shown lays it out). By default, the example
        as text."""
        return {"text": " ".join(str(x[index]).split())}


def raw_file(directory, path: str) -> Path:
    """The file of data/raw named by `path` (one of paths.RAW_*), inside `directory`."""
    return Path(directory) / Path(path).name


def read_raw_arrays(path, names: list) -> dict:
    """The arrays of a raw npz, which must hold `names`."""
    arrays = read_npz(path, None)
    missing = [name for name in names if name not in arrays]
    if missing:
        raise PipelineError(f"{path} lacks the arrays {missing}: rebuild it with `dvc repro collect`")
    return arrays


def write_labels(directory, y: np.ndarray) -> None:
    """The targets of examples kept in another file (tables, texts)."""
    write_npz(raw_file(directory, paths.RAW_LABELS), y=y)


def read_labels(directory) -> np.ndarray:
    return read_raw_arrays(raw_file(directory, paths.RAW_LABELS), ["y"])["y"]


def read_raw_parquet(path, columns=None, strings_as_categories: bool = False, rows=None):
    """A raw parquet file as a pandas frame (io.read_parquet), or only the rows numbered `rows`
    (io.read_parquet_rows, all columns)."""
    if not Path(path).exists():
        raise PipelineError(f"{path} is missing: rebuild it with `dvc repro collect`")
    if rows is not None:
        return read_parquet_rows(path, rows, strings_as_categories)
    return read_parquet(path, columns, strings_as_categories)
