"""A categorical column's fitted values, and its rows as positions among them: one-hot columns or indices.

Vocabulary follows OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories) exactly, from the
column's value counts (a pandas categorical's codes, counted in one pass) rather than from a Python object
per row: a capped column keeps its max_categories - 1 most frequent values and one last position for all
the others, where unseen values go too; an uncapped column's unseen values have no position (one-hot: all
zeros).

An indexed column (many values) is stored as one integer per row rather than a block of zeros and a one:
a one-hot block followed by a Dense layer computes, for a row with value v, the Dense kernel's row for v,
an embedding lookup. IndexedDense (stages/lib/table_layer.py) is the Dense layer that reads it so; an
uncapped column's unseen values get the index one past its values, whose embedding is held at zero.
"""
import numpy as np

UNSEEN = -1  # the position of an uncapped column's unseen value


class Vocabulary:
    """One column's kept values (sorted), whether the rest share a last position (`capped`), and `width`."""

    def __init__(self, max_categories=None):
        self.max_categories = max_categories

    def fit(self, column) -> "Vocabulary":
        """`column`: a pandas categorical of strings without gaps (features.fill_missing)."""
        counts = np.bincount(column.cat.codes.to_numpy(), minlength=len(column.cat.categories))
        present = np.flatnonzero(counts)
        values, counts = [str(v) for v in column.cat.categories[present]], counts[present]
        rare = np.zeros(len(values), dtype=bool)
        if self.max_categories is not None and self.max_categories <= len(values):
            # scikit-learn's rule: the max_categories - 1 most frequent; of tied values, the later ones are kept
            order = np.argsort(counts, kind="mergesort")
            rare[order if self.max_categories == 1 else order[:-(self.max_categories - 1)]] = True
        self.values = [v for v, r in zip(values, rare) if not r]
        self.capped = bool(rare.any())
        self.width = len(self.values) + self.capped
        self._position = {v: k for k, v in enumerate(self.values)}
        return self

    def positions(self, column) -> np.ndarray:
        """Each row's position among the kept values: the last one for a capped column's other values,
        UNSEEN for an uncapped column's unseen ones."""
        other = len(self.values) if self.capped else UNSEEN
        lookup = np.array([self._position.get(str(v), other) for v in column.cat.categories], dtype=np.int64)
        return lookup[column.cat.codes.to_numpy()]

    def indices(self, column) -> np.ndarray:
        """The positions as float32 indices into an embedding of `size` rows (unseen: one past the values)."""
        positions = self.positions(column)
        return np.where(positions == UNSEEN, self.width, positions).astype(np.float32)

    @property
    def size(self) -> int:
        """Embedding rows: the one-hot width, plus one for unseen values where uncapped."""
        return self.width + (not self.capped)

    def one_hot_names(self, name: str) -> list:
        """scikit-learn's one-hot feature names: name_value, and name_infrequent_sklearn for the others."""
        return [f"{name}_{v}" for v in self.values] + ([f"{name}_infrequent_sklearn"] if self.capped else [])
