"""TableFeatures, fitted a column or a block of rows at a time, gives scikit-learn's ColumnTransformer's features."""
import numpy as np
import pandas as pd
import pytest
from scipy.sparse import issparse

from stages.lib.features import fill_missing
from stages.lib.kinds.table import SPARSE_BELOW, TableFeatures


def messy(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"size": rng.normal(size=rows), "count": rng.integers(0, 9, rows).astype(float),
                      "code": rng.choice([f"c{k}" for k in range(60)], rows),
                      "city": rng.choice(["x", "y", None], rows), "flag": rng.choice(["1", "2.5", None], rows)})
    x.loc[::7, "size"] = np.nan
    x.loc[3::11, "code"] = None
    return x


def scikit_learn(imputation: str, max_categories, sparse_threshold: float):
    """The ColumnTransformer TableFeatures used to be, fitted on a whole frame."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import KNNImputer, MissingIndicator, SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    imputer = (KNNImputer(n_neighbors=3, keep_empty_features=True) if imputation == "knn"
               else SimpleImputer(strategy="median", keep_empty_features=True))
    return ColumnTransformer([
        ("numeric", Pipeline([("impute", imputer), ("scale", StandardScaler())]), ["size", "count"]),
        ("missing", MissingIndicator(features="all", error_on_new=False), ["size"]),
        ("categorical", OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=max_categories,
                                      dtype=np.float32), ["code", "city", "flag"]),
    ], verbose_feature_names_out=True, sparse_threshold=sparse_threshold)


def as_scikit_learn_reads(x: pd.DataFrame) -> pd.DataFrame:
    x = x.copy()
    for name in ["code", "city", "flag"]:
        x[name] = fill_missing(x[name]).astype(object)
    return x


@pytest.mark.parametrize("imputation, max_categories, sparse", [
    ("median", 8, False), ("knn", 8, False), ("median", None, True), ("knn", None, True), ("median", 40, True)])
def test_table_features_are_scikit_learn_s_to_the_byte(imputation, max_categories, sparse):
    train, later = messy(600, 0), messy(300, 1)
    later.loc[:4, "code"] = "never seen"
    ours = TableFeatures(["size", "count"], ["code", "city", "flag"], "standard", imputation, 3, max_categories).fit(
        train)
    theirs = scikit_learn(imputation, max_categories, SPARSE_BELOW).fit(as_scikit_learn_reads(train))
    assert ours.statistics()["feature_names"] == list(theirs.get_feature_names_out())
    for part in (train, later):
        expected = theirs.transform(as_scikit_learn_reads(part))
        features = ours.transform(part)
        assert issparse(features) == issparse(expected) == sparse
        if issparse(features):
            expected = expected.astype(np.float32).tocsr()
            for name in ("data", "indices", "indptr"):
                assert getattr(features, name).tobytes() == getattr(expected, name).tobytes()
        else:
            assert features.tobytes() == np.asarray(expected, dtype=np.float32).tobytes()


def test_fitting_on_rows_of_a_frame_is_fitting_on_those_rows_and_blocks_of_rows_are_one_fit():
    x = messy(900, 2)
    x["code"] = x["code"].astype("category")  # as tables.read_raw reads a string column
    rows = np.random.default_rng(3).permutation(900)[:500]
    on_rows = TableFeatures(["size", "count"], ["code", "city"], "standard", "median", 3, 20, "auto").fit(x, rows)
    on_copy = TableFeatures(["size", "count"], ["code", "city"], "standard", "median", 3, 20, "auto").fit(
        x.iloc[rows].reset_index(drop=True))
    assert repr(on_rows.statistics()) == repr(on_copy.statistics())
    assert on_rows.transform(x).tobytes() == on_copy.transform(x).tobytes()


def test_a_scaler_fitted_a_block_of_rows_at_a_time_agrees_with_one_fit(monkeypatch):
    import stages.lib.kinds.table as table

    x = messy(1000, 4)
    whole = TableFeatures(["size", "count"], ["city"], "minmax", "median", 3).fit(x)
    blocks = table.row_blocks
    monkeypatch.setattr(table, "row_blocks", lambda indices, rows=2**18: blocks(indices, 64))
    in_blocks = TableFeatures(["size", "count"], ["city"], "minmax", "median", 3).fit(x)
    np.testing.assert_allclose(in_blocks.transform(x), whole.transform(x), rtol=1e-6)


def test_a_table_needs_no_normalization():
    x = messy(200, 5)
    features = TableFeatures(["size", "count"], ["city"], "none", "median", 3).fit(x)
    statistics = features.statistics()
    assert statistics["scaler"] == {"kind": "none"}
    filled = x["size"].fillna(statistics["medians"]["size"]).to_numpy(dtype=np.float32)
    np.testing.assert_array_equal(features.transform(x)[:, 0], filled)
