"""The interface every data kind implements (stages/lib/kinds/ has one module per kind)."""
from typing import Optional

import numpy as np


class Kind:
    """How one kind of raw data (as collect writes it) is validated, vectorized, exported, served and monitored.

    `raw` is collect's manifest, `columns` its column roles (tables), `spec` the exported model's input as
    signature.json describes it. A method with a default here is one most kinds need not change.
    """

    name = ""  # the manifest's "kind"
    input = ""  # the input's name in signature.json, by which the server finds the kind

    # validate
    def schema_check(self, raw: dict, x, value_range: tuple):
        """A validation.Check: one summary row per feature or example, and the expectations it must meet."""
        raise NotImplementedError

    def extra_checks(self, raw: dict, x, y: np.ndarray, split: dict, settings, seed: int) -> list:
        """Further validation.Checks only this kind has."""
        return []

    # validate and monitor
    def drift_features(self, x, columns: Optional[dict]) -> tuple:
        """(names, float64 matrix) of the numbers whose drift is measured, one column per name."""
        raise NotImplementedError

    def drift_categories(self, x, columns: Optional[dict]) -> dict:
        """{name: array of strings} of the categorical features whose proportions are compared."""
        return {}

    # vectorize
    def preprocessor(self, raw: dict, vectorize, imdb_encoding):
        """The unfitted preprocessing: fit(x) -> self, transform(x) -> float32 features, statistics() -> JSON."""
        raise NotImplementedError

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
