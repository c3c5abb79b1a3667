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


class CategoryIndexer(TransformerMixin, BaseEstimator):
    """Columns of categories (strings, no gaps) to float32 indices, one column each; see the module."""

    def __init__(self, max_categories=None):
        self.max_categories = max_categories

    def fit(self, x, y=None):
        from sklearn.preprocessing import OneHotEncoder

        self.encoder_ = OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=self.max_categories,
                                      dtype=np.float32).fit(x)
        self.widths_ = [len(block) for block in self._blocks()]
        return self

    def _blocks(self) -> list:
        """Each column's one-hot output positions, as OneHotEncoder lays them out."""
        blocks, start = [], 0
        rare = (self.encoder_.infrequent_categories_ if self.max_categories is not None
                else [None] * len(self.encoder_.categories_))
        for categories, infrequent in zip(self.encoder_.categories_, rare):
            width = len(categories) if infrequent is None else len(categories) - len(infrequent) + 1
            blocks.append(range(start, start + width))
            start += width
        return blocks

    def transform(self, x) -> np.ndarray:
        one_hot = self.encoder_.transform(x).tocsc()
        indices = np.empty((one_hot.shape[0], len(self.widths_)), dtype=np.float32)
        for column, block in enumerate(self._blocks()):
            part = one_hot[:, block.start:block.stop].tocsr()
            index = np.full(one_hot.shape[0], len(block), dtype=np.float32)  # unseen: one past the values
            rows = np.repeat(np.arange(part.shape[0]), np.diff(part.indptr))
            index[rows] = part.indices
            indices[:, column] = index
        return indices

    def get_feature_names_out(self, input_features=None):
        return np.asarray([f"{name}_index" for name in self.encoder_.feature_names_in_], dtype=object)

    def sizes(self) -> list:
        """Each column's embedding rows: its one-hot width, plus one for unseen values where uncapped."""
        return [width + (not self.capped()[k]) for k, width in enumerate(self.widths_)]

    def capped(self) -> list:
        rare = (self.encoder_.infrequent_categories_ if self.max_categories is not None
                else [None] * len(self.widths_))
        return [infrequent is not None for infrequent in rare]
