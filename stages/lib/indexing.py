"""Categorical columns of many values as integer indices, for a learned embedding in the model.

A one-hot column block followed by a Dense layer computes, for a row with value v, the Dense kernel's
row for v: an embedding lookup. CategoryIndexer stores that v as one integer per row instead of a block
of zeros and a one; IndexedDense (stages/lib/table_layer.py) is the Dense layer that reads it so.
Both follow OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories) exactly: a capped
column's rarer and unseen values share its last index; an uncapped column's unseen values get an
index of their own, one past its values, whose embedding is held at zero (one-hot's all-zero row).
"""
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin


def infrequent_categories(encoder, capped: bool) -> list:
    """A fitted OneHotEncoder's infrequent categories per column (None where a column kept every value);
    uncapped (no max_categories), scikit-learn leaves infrequent_categories_ unset."""
    return encoder.infrequent_categories_ if capped else [None] * len(encoder.categories_)


class CategoryIndexer(TransformerMixin, BaseEstimator):
    """Columns of categories (strings, no gaps) to float32 indices, one column each; see the module."""

    def __init__(self, max_categories=None):
        self.max_categories = max_categories

    def fit(self, x, y=None):
        from sklearn.preprocessing import OneHotEncoder

        self.encoder_ = OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=self.max_categories,
                                      dtype=np.float32).fit(x)
        rare = infrequent_categories(self.encoder_, self.max_categories is not None)
        self.capped_ = [infrequent is not None for infrequent in rare]
        # Each column's one-hot width, as OneHotEncoder lays them out: its kept values, plus one for the rarer.
        self.widths_ = [len(categories) if infrequent is None else len(categories) - len(infrequent) + 1
                        for categories, infrequent in zip(self.encoder_.categories_, rare)]
        return self

    def transform(self, x) -> np.ndarray:
        one_hot = self.encoder_.transform(x).tocsr()  # at most one 1 per row and column block
        starts = np.cumsum([0, *self.widths_[:-1]])
        indices = np.tile(np.asarray(self.widths_, dtype=np.float32), (one_hot.shape[0], 1))  # unseen: one past
        rows = np.repeat(np.arange(one_hot.shape[0]), np.diff(one_hot.indptr))
        blocks = np.searchsorted(starts, one_hot.indices, side="right") - 1
        indices[rows, blocks] = one_hot.indices - starts[blocks]
        return indices

    def get_feature_names_out(self, input_features=None):
        return np.asarray([f"{name}_index" for name in self.encoder_.feature_names_in_], dtype=object)

    def sizes(self) -> list:
        """Each column's embedding rows: its one-hot width, plus one for unseen values where uncapped."""
        return [width + (not capped) for width, capped in zip(self.widths_, self.capped_)]
