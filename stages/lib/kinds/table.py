"""Tables: a frame of numeric and categorical columns (the user's CSV or parquet file)."""
import re

import numpy as np
import pandas as pd
from scipy.sparse import issparse

from stages.lib import paths
from stages.lib.bad_request import BadRequest, check_utf8, show
from stages.lib.checks import HINTS, Check
from stages.lib.features import FLOAT32_MAX, MISSING_CATEGORY, affine, fill_missing, make_scaler, scaler_statistics
from stages.lib.io import sha256_of_arrays, write_parquet
from stages.lib.kinds.base import Kind, raw_file, read_labels, read_raw_parquet, write_labels

# ColumnTransformer's sparse_threshold: features under this share of non-zeros are stored sparse (scikit-learn's
# default). A table of numbers and a few small categoricals stays dense, as the studies' noise-channel variants need.
SPARSE_BELOW = 0.3

# vectorize.index_above: auto indexes the categorical columns of more values than this, when one-hot encoding
# them all would make the features sparse; the columns of a few values stay one-hot (a dense, narrow rest).
AUTO_INDEX_ABOVE = 16

KNN_NOT_SERVABLE = ("export of vectorize.imputation: knn is not supported: KNN imputation needs the training rows "
                    "at serving time; set vectorize.imputation: median")


def index_threshold(index_above, widths: list, other_columns: int):
    """The number of values above which a categorical column is indexed (None: none is), for
    vectorize.index_above; `widths`: each categorical column's one-hot columns, `other_columns`: the numeric and
    missing-indicator ones. auto: none where one-hot features would be dense; else AUTO_INDEX_ABOVE, or lower
    (down to the narrowest column's width) until what stays one-hot is dense too, since indexed features are."""
    if index_above != "auto":
        return index_above

    def dense(threshold) -> bool:  # a row's non-zeros (one per column) against its width
        width = other_columns + sum(w if threshold is None or w <= threshold else 1 for w in widths)
        return other_columns + len(widths) >= SPARSE_BELOW * width

    if dense(None):
        return None
    candidates = [AUTO_INDEX_ABOVE, *sorted({w - 1 for w in widths if w - 1 < AUTO_INDEX_ABOVE}, reverse=True)]
    return next(t for t in candidates if dense(t))  # the last candidate indexes every column: dense


def table_summary(x: pd.DataFrame, columns: dict) -> pd.DataFrame:
    """One row per table column: its role, dtype kind and share of missing values."""
    names = columns["numeric"] + columns["categorical"]
    return pd.DataFrame({
        "column": names,
        "role": ["numeric"] * len(columns["numeric"]) + ["categorical"] * len(columns["categorical"]),
        "kind": [x[name].dtype.kind for name in names],
        "missing": [int(x[name].isna().sum()) for name in names],
        "missing_share": [float(x[name].isna().mean()) for name in names],
    })


# The exported model's other layers (TablePreprocessing; models.build_model's model): Keras refuses a name twice,
# so a column called "mlp" gets the input "mlp_".
LAYER_NAMES = {"table_preprocessing", "mlp"}


def input_names(columns: list) -> list:
    """SavedModel-safe input names for table columns ("mean radius" -> "mean_radius"), unique, none a layer's."""
    names = []
    for column in columns:
        name = re.sub(r"[^A-Za-z0-9_]", "_", str(column))
        name = name if re.match(r"[A-Za-z]", name) else f"c_{name}"
        while name in names or name in LAYER_NAMES:
            name += "_"
        names.append(name)
    return names


class TableFeatures:
    """Chapter 6's recipe for tables, with scikit-learn's transformers.

    Numeric columns: median (or KNN) imputation, then normalization, plus one 0/1 column per
    numeric column that had gaps in training. Categorical columns: gaps become the category
    "missing", then one-hot encoding; categories unseen in training encode as all zeros. A column
    with more than `max_categories` values keeps its max_categories - 1 most frequent ones and a
    last column for all the others, where unseen values go too.

    The features are a scipy CSR matrix when under SPARSE_BELOW of their values are non-zero (many
    one-hot columns), else a dense array: a 4,000-value column costs one stored value per row, not 4,000.
    """

    def __init__(self, numeric: list, categorical: list, normalization: str, imputation: str, knn_neighbors: int,
                 max_categories=None, index_above=None):
        self.numeric, self.categorical = list(numeric), list(categorical)
        self.normalization, self.imputation, self.knn_neighbors = normalization, imputation, knn_neighbors
        self.max_categories, self.index_above = max_categories, index_above

    def _frame(self, x: pd.DataFrame) -> pd.DataFrame:
        frame = x[self.numeric].astype(np.float64)
        for name in self.categorical:
            frame[name] = fill_missing(x[name])
        return frame

    def fit(self, x):
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import KNNImputer, MissingIndicator, SimpleImputer
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder

        from stages.lib.indexing import CategoryIndexer

        # A column missing in every training row (a mostly empty column in a small fold) is kept and
        # filled with 0, so that every fold has the same features.
        imputer = (KNNImputer(n_neighbors=self.knn_neighbors, keep_empty_features=True) if self.imputation == "knn"
                   else SimpleImputer(strategy="median", keep_empty_features=True))
        frame = self._frame(x)
        # A 0/1 column per numeric column with gaps in training, chosen here rather than by MissingIndicator's
        # "missing-only": with no gaps it would yield zero columns, which a sparse ColumnTransformer refuses.
        self.indicated = [name for name in self.numeric if frame[name].isna().any()]
        cap = self.max_categories or float("inf")
        widths = {name: min(frame[name].nunique(), cap) for name in self.categorical}
        threshold = index_threshold(self.index_above, list(widths.values()), len(self.numeric) + len(self.indicated))
        self.indexed = [name for name in self.categorical if threshold is not None and widths[name] > threshold]
        self.index_threshold = threshold
        self.one_hot = [name for name in self.categorical if name not in self.indexed]
        self.transformer = ColumnTransformer([
            ("numeric", Pipeline([("impute", imputer), ("scale", make_scaler(self.normalization))]), self.numeric),
            ("missing", MissingIndicator(features="all", error_on_new=False), self.indicated),
            ("categorical", OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=self.max_categories,
                                          dtype=np.float32), self.one_hot),
            ("indexed", CategoryIndexer(self.max_categories), self.indexed),
        ], verbose_feature_names_out=True, sparse_threshold=0 if self.indexed else SPARSE_BELOW)
        self.transformer.fit(frame)
        self.rows = len(x)  # the rows KNN imputation searches at transform time
        return self

    def transform(self, x):
        features = self.transformer.transform(self._frame(x))
        return features.astype(np.float32).tocsr() if issparse(features) else np.asarray(features, dtype=np.float32)

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
            "missing_indicators": self.indicated,
        }
        if self.categorical:
            from stages.lib.indexing import infrequent_categories

            # The categories with a column (or index) of their own, in order; a column in `other_values` is
            # followed by one for every other value (infrequent_if_exist).
            statistics["categories"], statistics["other_values"] = {}, []
            encoders = [(self.one_hot, self.transformer.named_transformers_["categorical"])]
            if self.indexed:
                encoders.append((self.indexed, self.transformer.named_transformers_["indexed"].encoder_))
            for names, encoder in encoders:
                if not names:
                    continue
                rare = infrequent_categories(encoder, self.max_categories is not None)
                rare_sets = [set(r) if r is not None else set() for r in rare]
                statistics["categories"].update({name: [v for v in c if v not in r]
                                                 for name, c, r in zip(names, encoder.categories_, rare_sets)})
                statistics["other_values"] += [name for name, r in zip(names, rare) if r is not None]
            statistics["categories"] = {name: statistics["categories"][name] for name in self.categorical}
            statistics["other_values"] = [name for name in self.categorical if name in statistics["other_values"]]
        if self.indexed:
            indexer = self.transformer.named_transformers_["indexed"]
            width = len(statistics["feature_names"])
            statistics["indexed"] = {"columns": self.indexed, "above": self.index_threshold,
                                     "positions": list(range(width - len(self.indexed), width)),
                                     "sizes": indexer.sizes(), "masked": [not c for c in indexer.capped_]}
        if self.imputation == "knn":
            statistics["knn"] = {"n_neighbors": self.knn_neighbors, "reference_rows": self.rows}
        else:
            statistics["medians"] = dict(zip(self.numeric, imputer.statistics_))
        return statistics


def _hashes(x: pd.DataFrame) -> np.ndarray:
    """One uint64 per row, from the row's values only."""
    return pd.util.hash_pandas_object(x, index=False).to_numpy()


def _json_value(value):
    if isinstance(value, str):
        return value
    return None if np.isnan(value) else float(value)


def _column_value(value, dtype: str, where: str):
    if dtype == "float32":
        if value is None or (isinstance(value, float) and value != value):  # null or NaN: missing
            return np.nan
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not abs(value) <= FLOAT32_MAX:
            raise BadRequest(f"{where}: {show(value)} is not a number within float32 "
                             "(send a number, or null when missing)")
        return value
    if value is None:
        return MISSING_CATEGORY
    if isinstance(value, bool):  # collect turns a column of booleans into the categories "true" and "false"
        return "true" if value else "false"
    if not isinstance(value, (str, int, float)):
        raise BadRequest(f"{where}: {show(value)} is not a category (send a string, or null when missing)")
    return check_utf8(value, where) if isinstance(value, str) else str(value)


def single_feature_scores(x: pd.DataFrame, y: np.ndarray, columns: dict, split: dict, problem: str,
                          seed: int, max_rows=None) -> pd.DataFrame:
    """Target leakage: how well each column alone predicts the target, trained on the first fold's
    training part and scored on its validation part (balanced accuracy, or R² for regression); each part
    a seeded sample of at most `max_rows` rows (validate.leakage_max_rows), whose sizes the frame records."""
    from sklearn.metrics import balanced_accuracy_score, r2_score
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    from stages.lib.splitting import sample_indices

    full = [np.asarray(split["folds"][0][k]) for k in ("train", "validation")]
    train, validation = (indices if max_rows is None else indices[sample_indices(indices, max_rows, seed, False)[0]]
                         for indices in full)
    sampled = {"train_rows": f"{len(train)} of {len(full[0])}", "validation_rows": f"{len(validation)} of {len(full[1])}"}
    rows = []
    for name in columns["numeric"] + columns["categorical"]:
        column = x[name]
        values = (column.astype("category").cat.codes.to_numpy(dtype=np.float64) if name in columns["categorical"]
                  else column.to_numpy(dtype=np.float64)).reshape(-1, 1)
        if problem == "regression":
            model = DecisionTreeRegressor(min_samples_leaf=5, random_state=seed).fit(values[train], y[train])
            score = r2_score(y[validation], model.predict(values[validation]))
        else:
            model = DecisionTreeClassifier(max_depth=4, random_state=seed).fit(values[train], y[train])
            score = balanced_accuracy_score(y[validation], model.predict(values[validation]))
        rows.append({"feature": name, "single_feature_score": score, **sampled})
    return pd.DataFrame(rows)


class Table(Kind):
    name, input = "table", "columns"
    repeats_are_copies = False

    def write_raw(self, directory, x, y):
        write_parquet(raw_file(directory, paths.RAW_TABLE), x)
        write_labels(directory, y)

    def read_raw(self, directory):
        return read_raw_parquet(raw_file(directory, paths.RAW_TABLE)), read_labels(directory)

    def read_targets(self, directory):
        return read_labels(directory)

    def read_column(self, directory, name: str):
        """One raw column (the time column), without reading the others."""
        return read_raw_parquet(raw_file(directory, paths.RAW_TABLE), columns=[name])[name].to_numpy()

    def take(self, x, indices):
        return x.iloc[indices].reset_index(drop=True)

    def row_hashes(self, x):
        return _hashes(x)  # uint64: 8 bytes a row, where a hexadecimal string would take over 100

    def content_hash(self, x, y):
        return sha256_of_arrays(_hashes(x), y)

    def shape_and_dtype(self, x):
        return {"example_shape": [], "dtype": None}

    def schema_check(self, raw, x, value_range):
        import great_expectations.expectations as gxe

        return Check("schema_and_ranges", table_summary(x, raw["columns"]), [
            gxe.ExpectColumnValuesToBeBetween(column="missing_share", max_value=0.999999, notes=HINTS["empty_column"]),
            gxe.ExpectColumnPairValuesToBeInSet(column_A="role", column_B="kind", value_pairs_set=[
                ("numeric", "f"), ("categorical", "O")], notes=HINTS["role"]),
        ], ["column"])

    def extra_checks(self, raw, x, y, split, settings, seed):
        import great_expectations.expectations as gxe

        scores = single_feature_scores(x, y, raw["columns"], split, raw["problem"], seed, settings.leakage_max_rows)
        return [Check("target_leakage", scores, [
            gxe.ExpectColumnValuesToBeBetween(column="single_feature_score", notes=HINTS["target_leakage"],
                                              max_value=settings.max_single_feature_score),
        ], ["feature"])]

    def drift_features(self, x, columns):
        return columns["numeric"], x[columns["numeric"]].to_numpy(dtype=np.float64)

    def drift_categories(self, x, columns):
        return {column: fill_missing(x[column]).to_numpy() for column in columns["categorical"]}

    def preprocessor(self, raw, vectorize, imdb_encoding):
        columns = raw["columns"]
        return TableFeatures(columns["numeric"], columns["categorical"], vectorize.normalization,
                             vectorize.imputation, vectorize.knn_neighbors, vectorize.max_categories,
                             vectorize.index_above)

    def unservable(self, statistics):
        return KNN_NOT_SERVABLE if statistics["imputation"] != "median" else None

    def layers(self, preprocessor, raw):
        import keras

        from stages.lib.table_layer import TablePreprocessing

        stats = preprocessor.statistics()
        numeric, categorical = stats["numeric"], stats["categorical"]
        names = input_names(numeric + categorical)
        dtypes = ["float32"] * len(numeric) + ["string"] * len(categorical)
        inputs = {name: keras.Input(shape=(), dtype=dtype, name=name) for name, dtype in zip(names, dtypes)}
        scale, offset = affine(stats["scaler"], len(numeric))
        layer = TablePreprocessing(medians=[float(stats["medians"][c]) for c in numeric], scale=scale, offset=offset,
                                   indicators=[numeric.index(c) for c in stats["missing_indicators"]],
                                   categories=[[str(v) for v in stats["categories"][c]] for c in categorical],
                                   other_values=[c in stats.get("other_values", []) for c in categorical],
                                   indexed=[c in stats.get("indexed", {}).get("columns", []) for c in categorical])
        return inputs, layer([inputs[name] for name in names])

    def custom_layers(self):
        from stages.lib.table_layer import IndexedDense, TablePreprocessing

        return {"TablePreprocessing": TablePreprocessing, "IndexedDense": IndexedDense}

    def input_spec(self, statistics, raw):
        numeric, categorical = statistics["numeric"], statistics["categorical"]
        names = input_names(numeric + categorical)
        dtypes = ["float32"] * len(numeric) + ["string"] * len(categorical)
        return {"name": self.input, "dtype": "mixed", "shape": [],
                "columns": [{"column": str(c), "input": n, "dtype": d}
                            for c, n, d in zip(numeric + categorical, names, dtypes)],
                "categories": {str(c): [str(v) for v in statistics["categories"][c]] for c in categorical},
                # Columns capped at vectorize.max_categories: any other value is accepted, read as "a rarer value".
                "other_values": [str(c) for c in statistics.get("other_values", [])],
                "description": "one row as a JSON object of column: value; null for a missing value",
                # Columns of the user's file that the model does not read: a served row may carry them, unread.
                "ignored": sorted(raw.get("excluded") or {}) + [c for c in [raw.get("time_column")] if c]}

    def raw_batch(self, x, spec):
        return {c["input"]: (x[c["column"]].to_numpy(dtype=np.float32) if c["dtype"] == "float32" else
                             fill_missing(x[c["column"]]).to_numpy(dtype=object))
                for c in spec["columns"]}

    def as_instances(self, batch, spec):
        n = len(next(iter(batch.values())))
        return [{c["column"]: _json_value(batch[c["input"]][i]) for c in spec["columns"]} for i in range(n)]

    def parse(self, instances, spec):
        """Every instance a JSON object with a value (or null) for every column; the columns collect left
        out of the features (ids, names, the time column) may be present and are not read."""
        columns = spec["columns"]
        known = {c["column"] for c in columns} | set(spec.get("ignored", []))
        values = {c["input"]: [] for c in columns}
        for index, instance in enumerate(instances):
            if not isinstance(instance, dict):
                raise BadRequest(f"instance {index} is not a JSON object of column: value")
            missing = [c["column"] for c in columns if c["column"] not in instance]
            if missing:
                raise BadRequest(f"instance {index} lacks column(s) {show(missing[:5], 200)}: "
                                 "send null for a missing value")
            unknown = sorted(set(instance) - known)
            if unknown:
                raise BadRequest(f"instance {index} has unknown column(s) {show(unknown[:5], 200)}")
            for c in columns:
                values[c["input"]].append(_column_value(instance[c["column"]], c["dtype"],
                                                        f"instance {index}, column {c['column']!r}"))
        return {c["input"]: np.asarray(values[c["input"]], dtype=np.float32 if c["dtype"] == "float32" else object)
                for c in columns}

    def as_raw(self, batch, spec):
        """A served batch back under its column names, as collect writes tables."""
        return pd.DataFrame({c["column"]: batch[c["input"]] for c in spec["columns"]})

    def example_view(self, x, index):
        return {"cells": list(x.iloc[index].items())}


KIND = Table()
