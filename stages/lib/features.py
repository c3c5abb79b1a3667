"""Vectorization: every kind of raw data to float32 features, with every statistic fitted on training data only.

One preprocessor per data kind, each with fit(x) -> self, transform(x) -> features and
statistics() -> the fitted values as JSON, saved next to the features.
"""
import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix

from stages.lib.errors import PipelineError

MISSING_CATEGORY = "missing"


def _scaler(kind: str):
    from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, StandardScaler

    return {"standard": StandardScaler, "minmax": MinMaxScaler, "none": FunctionTransformer}[kind]()


def flatten(x: np.ndarray, what: str) -> np.ndarray:
    """(n, ...) examples to an (n, features) float32 matrix, refusing missing or infinite values."""
    flat = x.reshape(len(x), -1).astype(np.float32)
    bad = ~np.isfinite(flat)
    if bad.any():
        rows, cols = np.nonzero(bad)
        raise PipelineError(
            f"{what} has {bad.sum()} NaN/infinite feature value(s), first at example {rows[0]} feature f{cols[0]}: "
            "fix the raw data (validate should have stopped this)")
    return flat


def scaler_statistics(scaler, kind: str) -> dict:
    """The fitted statistics, so that anyone (and serving, later) can apply the same transform."""
    if kind == "standard":
        return {"kind": kind, "mean": scaler.mean_, "scale": scaler.scale_}
    if kind == "minmax":
        return {"kind": kind, "data_min": scaler.data_min_, "data_max": scaler.data_max_,
                "scale": scaler.scale_, "min": scaler.min_}
    return {"kind": kind}


class ImageFeatures:
    """Pixels flattened and normalized (standard, minmax or none) with one mean and scale for all pixels.

    The statistics pool every pixel of the training images, as the book's /255 does: scaling each
    pixel on its own blows up a border pixel that is ink in a handful of training images, and it
    changes the images' relative intensities. (On real MNIST, test accuracy is the same either way.)
    """

    def __init__(self, normalization: str):
        self.normalization = normalization

    def fit(self, x):
        flat = flatten(x, "the training split")
        self.width = flat.shape[1]
        self.scaler = _scaler(self.normalization).fit(flat.reshape(-1, 1))
        return self

    def transform(self, x):
        flat = flatten(x, "a split")
        return np.asarray(self.scaler.transform(flat.reshape(-1, 1)), dtype=np.float32).reshape(flat.shape)

    def statistics(self) -> dict:
        """The pooled statistics repeated for every pixel, the shape export and serving read for any scaler."""
        stats = scaler_statistics(self.scaler, self.normalization)
        return {key: np.full(self.width, value[0]) if isinstance(value, np.ndarray) else value
                for key, value in stats.items()}


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


class TableFeatures:
    """Chapter 6's recipe for tables, with scikit-learn's transformers.

    Numeric columns: median (or KNN) imputation, then normalization, plus one 0/1 column per
    numeric column that had gaps in training. Categorical columns: gaps become the category
    "missing", then one-hot encoding; categories unseen in training encode as all zeros.
    """

    def __init__(self, numeric: list, categorical: list, normalization: str, imputation: str, knn_neighbors: int):
        self.numeric, self.categorical = list(numeric), list(categorical)
        self.normalization, self.imputation, self.knn_neighbors = normalization, imputation, knn_neighbors

    def _frame(self, x: pd.DataFrame) -> pd.DataFrame:
        frame = x[self.numeric].astype(np.float64)
        for name in self.categorical:
            frame[name] = x[name].astype(object).where(x[name].notna(), MISSING_CATEGORY).astype(str)
        return frame

    def fit(self, x):
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import KNNImputer, MissingIndicator, SimpleImputer
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder

        # A column missing in every training row (a mostly empty column in a small fold) is kept and
        # filled with 0, so that every fold has the same features.
        imputer = (KNNImputer(n_neighbors=self.knn_neighbors, keep_empty_features=True) if self.imputation == "knn"
                   else SimpleImputer(strategy="median", keep_empty_features=True))
        self.transformer = ColumnTransformer([
            ("numeric", Pipeline([("impute", imputer), ("scale", _scaler(self.normalization))]), self.numeric),
            ("missing", MissingIndicator(error_on_new=False), self.numeric),
            ("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), self.categorical),
        ], verbose_feature_names_out=True)
        self.transformer.fit(self._frame(x))
        return self

    def transform(self, x):
        return np.asarray(self.transformer.transform(self._frame(x)), dtype=np.float32)

    def statistics(self) -> dict:
        numeric = self.transformer.named_transformers_["numeric"]
        imputer = numeric.named_steps["impute"]
        statistics = {
            "kind": "table",
            "feature_names": list(self.transformer.get_feature_names_out()),
            "numeric": self.numeric,
            "categorical": self.categorical,
            "imputation": self.imputation,
            "scaler": scaler_statistics(numeric.named_steps["scale"], self.normalization),
            "missing_indicators": [self.numeric[i] for i in self.transformer.named_transformers_["missing"].features_],
        }
        if self.categorical:
            encoder = self.transformer.named_transformers_["categorical"]
            statistics["categories"] = {name: list(c) for name, c in zip(self.categorical, encoder.categories_)}
        if self.imputation == "knn":
            statistics["knn"] = {"n_neighbors": self.knn_neighbors, "reference_rows": int(imputer._fit_X.shape[0])}
        else:
            statistics["medians"] = dict(zip(self.numeric, imputer.statistics_))
        return statistics


class TextFeatures:
    """Keras TextVectorization: multi-hot or TF-IDF over unigrams (or bigrams too), kept sparse."""

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
            # Keras keeps the fitted IDF weights on the layer's inner lookup only (no public getter).
            statistics["idf_weights"] = np.asarray(self.layer._lookup_layer.idf_weights)
        return statistics


def make_preprocessor(raw_manifest: dict, vectorize, imdb_encoding):
    """The unfitted preprocessor for the raw data's kind, configured from params."""
    kind = raw_manifest["kind"]
    if kind == "images":
        return ImageFeatures(vectorize.normalization)
    if kind == "sequences":
        return MultiHotSequences(imdb_encoding.num_words)
    if kind == "table":
        columns = raw_manifest["columns"]
        return TableFeatures(columns["numeric"], columns["categorical"], vectorize.normalization,
                             vectorize.imputation, vectorize.knn_neighbors)
    text = vectorize.text
    return TextFeatures(text.output_mode, text.ngrams, text.max_tokens)
