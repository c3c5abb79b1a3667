"""Validating raw data and splits with Great Expectations, on small derived frames.

Expectations run on summaries (one row per feature, per split-and-class, per example hash)
rather than on one column per pixel, which keeps validation fast at MNIST scale.
"""
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from stages.lib.datasets import DatasetSpec
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


def _schema_check(spec: DatasetSpec, x, value_range: tuple):
    import great_expectations.expectations as gxe

    low, high = value_range
    if spec.kind == "sequences":
        return Check("schema_and_ranges", sequence_summary(x), [
            gxe.ExpectColumnValuesToBeInSet(column="kind", value_set=["i", "u"]),
            gxe.ExpectColumnValuesToBeBetween(column="length", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="min", min_value=low),
            gxe.ExpectColumnValuesToBeBetween(column="max", max_value=high),
        ], ["example"])
    return Check("schema_and_ranges", feature_summary(x), [
        gxe.ExpectTableRowCountToEqual(value=int(np.prod(spec.example_shape))),
        gxe.ExpectColumnValuesToBeInSet(column="kind", value_set=["f", "i", "u"]),
        gxe.ExpectColumnValuesToBeInSet(column="missing", value_set=[0]),
        gxe.ExpectColumnValuesToBeBetween(column="min", min_value=low),
        gxe.ExpectColumnValuesToBeBetween(column="max", max_value=high),
    ], ["feature"])


def build_checks(spec: DatasetSpec, x, y, split, hashes, max_gap: float, value_range: tuple) -> list:
    """The suites: schema and ranges, labels, representativeness of splits, leakage across splits."""
    import great_expectations.expectations as gxe

    classes = list(spec.classes)
    return [
        _schema_check(spec, x, value_range),
        Check("labels", pd.DataFrame({"example": np.arange(len(y)), "label": y}), [
            gxe.ExpectColumnValuesToNotBeNull(column="label"),
            gxe.ExpectColumnValuesToBeInSet(column="label", value_set=classes),
            gxe.ExpectColumnDistinctValuesToEqualSet(column="label", value_set=classes),
        ], ["example"]),
        Check("representativeness", class_proportions(y, split, classes), [
            gxe.ExpectColumnValuesToBeBetween(column="count", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="gap", max_value=max_gap),
        ], ["fold", "split", "class"]),
        Check("leakage", split_overlaps(hashes, split), [
            gxe.ExpectColumnValuesToBeBetween(column="n_splits", max_value=1),
        ], ["fold", "hash", "splits"]),
    ]


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
    """Flat numbers for `dvc metrics diff`."""
    by_name = {check.name: check.frame for check in checks}
    overlaps = by_name["leakage"]
    summary = by_name["schema_and_ranges"]
    return {
        "success": all(o["success"] for o in outcomes),
        "expectations": len(outcomes),
        "failed_expectations": sum(not o["success"] for o in outcomes),
        "missing_values": int(summary["missing"].sum()) if "missing" in summary else 0,
        "max_class_proportion_gap": float(by_name["representativeness"]["gap"].max()),
        "cross_split_duplicates": int((overlaps["n_splits"] > 1).sum()),
    }
