"""Tables: a frame of numeric and categorical columns (the user's CSV or parquet file)."""
import re

import numpy as np
import pandas as pd

from stages.lib import paths
from stages.lib.bad_request import BadRequest, check_utf8, show
from stages.lib.checks import HINTS, Check
from stages.lib.features import FLOAT32_MAX, MISSING_CATEGORY, affine, fill_missing, make_scaler, scaler_statistics
from stages.lib.io import row_blocks, sha256_of_arrays, write_parquet
from stages.lib.kinds.base import Kind, raw_file, read_labels, read_raw_parquet, write_labels

# ColumnTransformer's sparse_threshold: features under this share of non-zeros are stored sparse (scikit-learn's
# default). A table of numbers and a few small categoricals stays dense, as the studies' noise-channel variants need.
SPARSE_BELOW = 0.3

# vectorize.index_above: auto indexes the categorical columns of more values than this, when one-hot encoding
# them all would make the features sparse; the columns of a few values stay one-hot (a dense, narrow rest).
AUTO_INDEX_ABOVE = 16

KNN_NOT_SERVABLE = ("export of vectorize.imputation: knn is not supported: KNN imputation needs the training rows "
                    "at serving time; set vectorize.imputation: median")


def dense_one_hot(widths: list, other_columns: int) -> bool:
    """Whether features of `other_columns` numbers and one-hot blocks of `widths` columns are dense: a row's
    non-zeros (one per column and block) at least SPARSE_BELOW of its width, as scikit-learn's sparse_threshold."""
    return other_columns + len(widths) >= SPARSE_BELOW * (other_columns + sum(widths))


def index_threshold(index_above, widths: list, other_columns: int):
    """The number of values above which a categorical column is indexed (None: none is), for
    vectorize.index_above; `widths`: each categorical column's one-hot columns, `other_columns`: the numeric and
    missing-indicator ones. auto: none where one-hot features would be dense; else AUTO_INDEX_ABOVE, or lower
    (down to the narrowest column's width) until what stays one-hot is dense too, since indexed features are."""
    if index_above != "auto":
        return index_above

    def dense(threshold) -> bool:  # an indexed column is one column
        return dense_one_hot([w if threshold is None or w <= threshold else 1 for w in widths], other_columns)

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
    """Chapter 6's recipe for tables.

    Numeric columns: median (or KNN) imputation, then normalization, plus one 0/1 column per
    numeric column that had gaps in training. Categorical columns: gaps become the category
    "missing", then one-hot encoding; categories unseen in training encode as all zeros. A column
    with more than `max_categories` values keeps its max_categories - 1 most frequent ones and a
    last column for all the others, where unseen values go too. Columns of many values may be
    indexed instead (index_above; stages/lib/indexing.py), after the rest.

    The same features as scikit-learn's ColumnTransformer of SimpleImputer (or KNNImputer), a scaler,
    MissingIndicator and OneHotEncoder(handle_unknown="infrequent_if_exist"), with its feature names; but
    fitted a column (medians, vocabularies) or a block of rows (the scaler) at a time, never on a copy
    of the training rows whole (but for KNN imputation, whose reference is the training rows' numbers).
    The features are a scipy CSR matrix when under SPARSE_BELOW of their values are non-zero (many
    one-hot columns), else a dense array: a 4,000-value column costs one stored value per row, not 4,000.
    """

    def __init__(self, numeric: list, categorical: list, normalization: str, imputation: str, knn_neighbors: int,
                 max_categories=None, index_above=None):
        self.numeric, self.categorical = list(numeric), list(categorical)
        self.normalization, self.imputation, self.knn_neighbors = normalization, imputation, knn_neighbors
        self.max_categories, self.index_above = max_categories, index_above

    def _numbers(self, x: pd.DataFrame) -> np.ndarray:
        return np.column_stack([x[name].to_numpy(dtype=np.float64, na_value=np.nan) for name in self.numeric]
                               or [np.empty((len(x), 0))])

    def _impute(self, numbers: np.ndarray) -> np.ndarray:
        if self.imputation == "knn":
            return self.knn.transform(numbers) if numbers.shape[1] else numbers
        return np.where(np.isnan(numbers), self.medians, numbers)

    def fit(self, x: pd.DataFrame, rows=None):
        """Fitted on the rows `rows` of x (all when None), which are never copied whole."""
        from stages.lib.indexing import Vocabulary

        rows = np.arange(len(x)) if rows is None else np.asarray(rows)
        self.rows = len(rows)  # the rows KNN imputation searches at transform time
        # A 0/1 column per numeric column with gaps in training. A column missing in every training row (a
        # mostly empty column in a small fold) is kept and filled with 0, so that every fold has the same features.
        # KNN's reference is column-major, as a frame's values are: distances tie alike, neighbours alike.
        reference = np.empty((len(rows), len(self.numeric)), order="F") if self.imputation == "knn" else None
        self.indicated, medians = [], []
        for k, name in enumerate(self.numeric):
            values = x[name].to_numpy(dtype=np.float64, na_value=np.nan)[rows]
            gaps = np.isnan(values)
            if gaps.any():
                self.indicated.append(name)
            if reference is not None:
                reference[:, k] = values
            else:
                medians.append(0.0 if gaps.all() else np.nanmedian(values))
        if reference is not None:
            from sklearn.impute import KNNImputer

            self.knn = KNNImputer(n_neighbors=self.knn_neighbors, keep_empty_features=True)
            if self.numeric:
                self.knn.fit(reference)
        self.medians = np.asarray(medians, dtype=np.float64)
        self.scaler = make_scaler(self.normalization) if self.normalization != "none" and self.numeric else None
        for block in row_blocks(rows) if self.scaler is not None else []:
            self.scaler.partial_fit(self._impute(self._numbers(x.iloc[block])))
        self.vocabularies = {name: Vocabulary(self.max_categories).fit(fill_missing(x[name].iloc[rows]))
                             for name in self.categorical}
        widths = {name: vocabulary.width for name, vocabulary in self.vocabularies.items()}
        other = len(self.numeric) + len(self.indicated)
        threshold = index_threshold(self.index_above, list(widths.values()), other)
        self.indexed = [name for name in self.categorical if threshold is not None and widths[name] > threshold]
        self.index_threshold = threshold
        self.one_hot = [name for name in self.categorical if name not in self.indexed]
        # indexed features are dense; one-hot ones are sparse under SPARSE_BELOW of non-zeros
        self.sparse = bool(self.one_hot) and not self.indexed and \
            not dense_one_hot([widths[name] for name in self.one_hot], other)
        return self

    def feature_names(self) -> list:
        return ([f"numeric__{name}" for name in self.numeric]
                + [f"missing__missingindicator_{name}" for name in self.indicated]
                + [f"categorical__{n}" for name in self.one_hot for n in self.vocabularies[name].one_hot_names(name)]
                + [f"indexed__{name}_index" for name in self.indexed])

    def transform(self, x: pd.DataFrame):
        numbers = self._numbers(x)
        gaps = np.isnan(numbers[:, [self.numeric.index(name) for name in self.indicated]])
        numbers = self._impute(numbers)
        if self.scaler is not None:
            numbers = self.scaler.transform(numbers)
        positions = np.column_stack([self.vocabularies[name].positions(fill_missing(x[name])) for name in self.one_hot]
                                    or [np.empty((len(x), 0), dtype=np.int64)])
        starts = np.cumsum([0] + [self.vocabularies[name].width for name in self.one_hot])
        seen = positions >= 0
        columns = (positions + starts[:-1])[seen]  # row by row, in column order
        if self.sparse:
            from scipy.sparse import csr_matrix, hstack

            indptr = np.concatenate([[0], np.cumsum(seen.sum(axis=1))])
            one_hot = csr_matrix((np.ones(len(columns), dtype=np.float32), columns, indptr), shape=(len(x), starts[-1]))
            return hstack([numbers, gaps, one_hot]).tocsr().astype(np.float32)
        indices = [self.vocabularies[name].indices(fill_missing(x[name])) for name in self.indexed]
        features = np.zeros((len(x), numbers.shape[1] + gaps.shape[1] + starts[-1] + len(indices)), dtype=np.float32)
        features[:, :numbers.shape[1]] = numbers
        features[:, numbers.shape[1]:numbers.shape[1] + gaps.shape[1]] = gaps
        first = numbers.shape[1] + gaps.shape[1]
        features[np.nonzero(seen)[0], first + columns] = 1
        for k, column in enumerate(indices):
            features[:, first + starts[-1] + k] = column
        return features

    def statistics(self) -> dict:
        statistics = {
            "kind": "table",
            "feature_names": self.feature_names(),
            "numeric": self.numeric,
            "categorical": self.categorical,
            "imputation": self.imputation,
            "scaler": scaler_statistics(self.scaler, self.normalization),
            "missing_indicators": self.indicated,
        }
        if self.categorical:
            # The categories with a column (or index) of their own, in order; a column in `other_values` is
            # followed by one for every other value (infrequent_if_exist).
            statistics["categories"] = {name: self.vocabularies[name].values for name in self.categorical}
            statistics["other_values"] = [name for name in self.categorical if self.vocabularies[name].capped]
        if self.indexed:
            width = len(statistics["feature_names"])
            vocabularies = [self.vocabularies[name] for name in self.indexed]
            statistics["indexed"] = {"columns": self.indexed, "above": self.index_threshold,
                                     "positions": list(range(width - len(self.indexed), width)),
                                     "sizes": [v.size for v in vocabularies],
                                     "masked": [not v.capped for v in vocabularies]}
        if self.imputation == "knn":
            statistics["knn"] = {"n_neighbors": self.knn_neighbors, "reference_rows": self.rows}
        else:
            statistics["medians"] = dict(zip(self.numeric, self.medians))
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
        return read_raw_parquet(raw_file(directory, paths.RAW_TABLE), strings_as_categories=True), read_labels(directory)

    def read_targets(self, directory):
        return read_labels(directory)

    def read_column(self, directory, name: str):
        """One raw column (the time column), without reading the others."""
        return read_raw_parquet(raw_file(directory, paths.RAW_TABLE), columns=[name])[name].to_numpy()

    def take(self, x, indices):
        return x.iloc[indices].reset_index(drop=True)

    def read_examples(self, directory, indices):
        return read_raw_parquet(raw_file(directory, paths.RAW_TABLE), strings_as_categories=True, rows=indices)

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
        # each column as it is stored (float64: no copy), not a matrix copy of them all
        return columns["numeric"], [x[name].to_numpy(dtype=np.float64, na_value=np.nan) for name in columns["numeric"]]

    def drift_categories(self, x, columns):
        return {column: fill_missing(x[column]).to_numpy() for column in columns["categorical"]}

    def preprocessor(self, raw, vectorize, imdb_encoding):
        columns = raw["columns"]
        return TableFeatures(columns["numeric"], columns["categorical"], vectorize.normalization,
                             vectorize.imputation, vectorize.knn_neighbors, vectorize.max_categories,
                             vectorize.index_above)

    def fit_preprocessor(self, preprocessor, x, rows):
        return preprocessor.fit(x, rows)

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
