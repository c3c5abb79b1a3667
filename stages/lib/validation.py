"""Validating raw data and splits with Great Expectations, on small derived frames.

Expectations run on summaries (one row per feature, per split-and-class, per example hash)
rather than on one column per pixel, which keeps validation fast at MNIST scale.
"""
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from stages.lib.splitting import split_members


@dataclass
class Check:
    """A derived frame, the expectations it must meet, and the columns that name a bad row."""

    name: str
    frame: pd.DataFrame
    expectations: list = field(default_factory=list)
    index_columns: list = field(default_factory=list)


def feature_summary(x: np.ndarray) -> pd.DataFrame:
    """One row per feature: its dtype kind, min, max and count of missing values."""
    flat = x.reshape(len(x), -1)
    values = flat.astype(np.float64) if np.issubdtype(flat.dtype, np.number) else np.full(flat.shape, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing feature has no min or max
        low, high = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
    return pd.DataFrame({
        "feature": [f"f{i}" for i in range(flat.shape[1])],
        "kind": flat.dtype.kind,
        "min": low,
        "max": high,
        "missing": np.isnan(values).sum(axis=0),
    })


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


def class_proportions(y: np.ndarray, split: dict, classes) -> pd.DataFrame:
    """Each split's count and proportion of every class next to the whole's, and their gap."""
    overall = pd.Series(y).value_counts(normalize=True).reindex(classes, fill_value=0.0)
    rows = []
    for fold, name, indices in split_members(split):
        counts = pd.Series(y[indices]).value_counts().reindex(classes, fill_value=0)
        for label in classes:
            proportion = counts[label] / len(indices)
            rows.append({
                "fold": "all" if fold is None else str(fold), "split": name, "class": int(label),
                "count": int(counts[label]), "proportion": proportion,
                "gap": abs(proportion - overall[label]),
            })
    return pd.DataFrame(rows)


def split_overlaps(hashes: np.ndarray, split: dict) -> pd.DataFrame:
    """For each fold, one row per distinct example content with the splits it appears in."""
    members = split_members(split)
    test = [m for m in members if m[0] is None]
    rows = []
    for fold in sorted({m[0] for m in members if m[0] is not None}):
        parts = test + [m for m in members if m[0] == fold]
        frame = pd.concat([pd.DataFrame({"hash": hashes[idx], "split": name}) for _, name, idx in parts])
        grouped = frame.groupby("hash", sort=True)["split"].agg(lambda s: ",".join(sorted(set(s))))
        rows.append(pd.DataFrame({
            "fold": str(fold), "hash": grouped.index, "splits": grouped.values,
            "n_splits": grouped.str.count(",").values + 1,
        }))
    return pd.concat(rows, ignore_index=True)


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


def text_summary(x: np.ndarray) -> pd.DataFrame:
    """One row per text: its length in characters after trimming whitespace."""
    return pd.DataFrame({"example": np.arange(len(x)), "length": [len(str(t).strip()) for t in x]})


def js_divergence(reference: np.ndarray, other: np.ndarray, max_bins: int = 10) -> float:
    """Jensen-Shannon divergence (base 2, 0..1) of two samples' histograms over shared equal-width bins,
    as TFDV compares numeric features; missing values are left out.

    Up to 10 bins, fewer for small samples (the square-root rule): with 30 rows, ten bins would
    measure sampling noise more than drift.
    """
    from scipy.spatial.distance import jensenshannon

    reference, other = reference[np.isfinite(reference)], other[np.isfinite(other)]
    if len(reference) == 0 or len(other) == 0:
        return 0.0
    bins = int(np.clip(np.sqrt(min(len(reference), len(other))), 2, max_bins))
    low, high = min(reference.min(), other.min()), max(reference.max(), other.max())
    if low == high:
        return 0.0
    edges = np.linspace(low, high, bins + 1)
    p, _ = np.histogram(reference, edges)
    q, _ = np.histogram(other, edges)
    return float(jensenshannon(p, q, base=2) ** 2)


def numeric_features(kind: str, x, columns: Optional[dict]) -> tuple:
    """(names, float matrix) of the numbers drift is measured on: pixels, numeric table columns,
    or the length of each sequence or text."""
    if kind == "images":
        flat = x.reshape(len(x), -1).astype(np.float64)
        return [f"f{i}" for i in range(flat.shape[1])], flat
    if kind == "table":
        return columns["numeric"], x[columns["numeric"]].to_numpy(dtype=np.float64)
    lengths = x.lengths if kind == "sequences" else np.array([len(str(t).split()) for t in x])
    return ["length"], lengths.reshape(-1, 1).astype(np.float64)


def _training_and_others(split: dict) -> list:
    """(fold, split name, training indices, compared indices): each fold's validation, and test against development."""
    pairs = [(str(k), "validation", np.asarray(f["train"]), np.asarray(f["validation"])) for k, f in enumerate(split["folds"])]
    return pairs + [("final", "test", np.asarray(split["development"]), np.asarray(split["test"]))]


def drift(names: list, values: np.ndarray, split: dict) -> pd.DataFrame:
    """One row per fold, compared split and feature with the Jensen-Shannon divergence from its training data."""
    rows = []
    for fold, name, train, other in _training_and_others(split):
        for column, feature in enumerate(names):
            rows.append({"fold": fold, "split": name, "feature": feature,
                         "js_divergence": js_divergence(values[train, column], values[other, column])})
    return pd.DataFrame(rows)


def arrow_of_time(time: np.ndarray, split: dict) -> pd.DataFrame:
    """Per fold: the earliest validation (or test) time against the latest training time."""
    time = pd.Series(time)  # datetimes print as 2024-01-31 00:00:00
    rows = []
    for fold, name, train, other in _training_and_others(split):
        latest, earliest = time.iloc[train].max(), time.iloc[other].min()
        rows.append({"fold": fold, "split": name, "latest_training": str(latest), "earliest": str(earliest),
                     "after_training": bool(earliest > latest)})
    return pd.DataFrame(rows)


def single_feature_scores(x: pd.DataFrame, y: np.ndarray, columns: dict, split: dict, problem: str,
                          seed: int) -> pd.DataFrame:
    """Target leakage: how well each column alone predicts the target, trained on the first fold's
    training part and scored on its validation part (balanced accuracy, or R² for regression)."""
    from sklearn.metrics import balanced_accuracy_score, r2_score
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    train, validation = (np.asarray(split["folds"][0][k]) for k in ("train", "validation"))
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
        rows.append({"feature": name, "single_feature_score": score})
    return pd.DataFrame(rows)


def _schema_check(raw: dict, x, value_range: tuple):
    import great_expectations.expectations as gxe

    kind = raw["kind"]
    if kind == "table":
        return Check("schema_and_ranges", table_summary(x, raw["columns"]), [
            gxe.ExpectColumnValuesToBeBetween(column="missing_share", max_value=0.999999),
            gxe.ExpectColumnPairValuesToBeInSet(column_A="role", column_B="kind", value_pairs_set=[
                ("numeric", "f"), ("categorical", "O")]),
        ], ["column"])
    if kind == "text":
        return Check("schema_and_ranges", text_summary(x), [
            gxe.ExpectColumnValuesToBeBetween(column="length", min_value=1),
        ], ["example"])
    low, high = value_range
    if kind == "sequences":
        return Check("schema_and_ranges", sequence_summary(x), [
            gxe.ExpectColumnValuesToBeInSet(column="kind", value_set=["i", "u"]),
            gxe.ExpectColumnValuesToBeBetween(column="length", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="min", min_value=low),
            gxe.ExpectColumnValuesToBeBetween(column="max", max_value=high),
        ], ["example"])
    return Check("schema_and_ranges", feature_summary(x), [
        gxe.ExpectTableRowCountToEqual(value=int(np.prod(raw["example_shape"]))),
        gxe.ExpectColumnValuesToBeInSet(column="kind", value_set=["f", "i", "u"]),
        gxe.ExpectColumnValuesToBeInSet(column="missing", value_set=[0]),
        gxe.ExpectColumnValuesToBeBetween(column="min", min_value=low),
        gxe.ExpectColumnValuesToBeBetween(column="max", max_value=high),
    ], ["feature"])


def build_checks(raw: dict, x, y, split, hashes, settings, value_range: tuple, classes: list, seed: int) -> list:
    """The suites: schema, targets, representativeness of splits, leakage (duplicates, arrow of
    time, target leakage) and drift between splits. `raw` is collect's manifest; `classes` the
    labels a classification target must have."""
    import great_expectations.expectations as gxe

    targets = pd.DataFrame({"example": np.arange(len(y)), "target": y})
    checks = [_schema_check(raw, x, value_range)]
    if raw["problem"] == "classification":
        checks += [
            Check("targets", targets, [
                gxe.ExpectColumnValuesToNotBeNull(column="target"),
                gxe.ExpectColumnValuesToBeInSet(column="target", value_set=classes),
                gxe.ExpectColumnDistinctValuesToEqualSet(column="target", value_set=classes),
            ], ["example"]),
            Check("representativeness", class_proportions(y, split, classes), [
                gxe.ExpectColumnValuesToBeBetween(column="count", min_value=1),
                gxe.ExpectColumnValuesToBeBetween(column="gap", max_value=settings.max_class_proportion_gap),
            ], ["fold", "split", "class"]),
        ]
    else:
        checks.append(Check("targets", targets.assign(finite=np.isfinite(y)), [
            gxe.ExpectColumnValuesToBeInSet(column="finite", value_set=[True]),
        ], ["example"]))
    checks.append(Check("leakage", split_overlaps(hashes, split), [
        gxe.ExpectColumnValuesToBeBetween(column="n_splits", max_value=1),
    ], ["fold", "hash", "splits"]))
    if raw.get("time_column"):
        checks.append(Check("arrow_of_time", arrow_of_time(x[raw["time_column"]].to_numpy(), split), [
            gxe.ExpectColumnValuesToBeInSet(column="after_training", value_set=[True]),
        ], ["fold", "split", "latest_training", "earliest"]))
    if raw["kind"] == "table":
        checks.append(Check("target_leakage", single_feature_scores(x, y, raw["columns"], split, raw["problem"], seed), [
            gxe.ExpectColumnValuesToBeBetween(column="single_feature_score", max_value=settings.max_single_feature_score),
        ], ["feature"]))
    names, values = numeric_features(raw["kind"], x, raw.get("columns"))
    if names:
        checks.append(Check("drift", drift(names, values, split), [
            gxe.ExpectColumnValuesToBeBetween(column="js_divergence", max_value=settings.max_js_divergence),
        ], ["fold", "split", "feature"]))
    return checks


def _describe_expectation(config) -> str:
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id", "result_format")}
    return f"{config.type}({', '.join(f'{k}={v}' for k, v in kwargs.items())})"


def _offenders(result: dict, index_columns: list, limit: int = 5) -> list:
    """The rows that broke an expectation: their index columns first, then the offending value."""
    rows = result.get("unexpected_index_list") or []
    if rows:
        ordered = [{**{k: row[k] for k in index_columns}, **row} for row in rows[:limit]]
        return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()} for row in ordered]
    if "observed_value" in result:
        return [{"observed": result["observed_value"]}]
    return []


def run_checks(checks: list, docs_dir) -> list:
    """Run every check with Great Expectations; when all pass, render Data Docs into `docs_dir`.

    Returns one outcome per expectation: suite, expectation, success, offending rows.
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.add_data_docs_site(site_name="project", site_config={
        "class_name": "SiteBuilder",
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(Path(docs_dir).resolve())},
    })
    source = context.data_sources.add_pandas("derived_frames")
    outcomes = []
    for check in checks:
        batch_definition = source.add_dataframe_asset(check.name).add_batch_definition_whole_dataframe("whole")
        suite = context.suites.add(gx.ExpectationSuite(name=check.name, expectations=check.expectations))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=check.name, data=batch_definition, suite=suite))
        result = definition.run(
            batch_parameters={"dataframe": check.frame},
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": check.index_columns},
        )
        for item in result.results:
            outcomes.append({
                "suite": check.name,
                "expectation": _describe_expectation(item.expectation_config),
                "success": bool(item.success),
                "offending": [] if item.success else _offenders(item.result, check.index_columns),
            })
    if all(o["success"] for o in outcomes):
        context.build_data_docs(site_names=["project"])
    return outcomes


def failure_message(outcomes: list) -> str:
    """One line naming each failed expectation and the rows (split, class, feature...) that broke it."""
    failed = [o for o in outcomes if not o["success"]]
    parts = []
    for outcome in failed:
        rows = "; ".join(", ".join(f"{k}={v}" for k, v in row.items()) for row in outcome["offending"])
        parts.append(f"[{outcome['suite']}] {outcome['expectation']} failed for {rows or 'the table'}")
    return f"validation failed ({len(failed)} expectation(s)): " + " | ".join(parts)


def summary_metrics(outcomes: list, checks: list) -> dict:
    """Flat numbers for `dvc metrics diff`; a check that does not apply to the data is left out."""
    by_name = {check.name: check.frame for check in checks}
    summary = by_name["schema_and_ranges"]
    metrics = {
        "success": all(o["success"] for o in outcomes),
        "expectations": len(outcomes),
        "failed_expectations": sum(not o["success"] for o in outcomes),
        "missing_values": int(summary["missing"].sum()) if "missing" in summary else 0,
        "cross_split_duplicates": int((by_name["leakage"]["n_splits"] > 1).sum()),
    }
    for name, column, key in (("representativeness", "gap", "max_class_proportion_gap"),
                              ("target_leakage", "single_feature_score", "max_single_feature_score"),
                              ("drift", "js_divergence", "max_js_divergence")):
        if name in by_name:
            metrics[key] = float(by_name[name][column].max())
    return metrics
