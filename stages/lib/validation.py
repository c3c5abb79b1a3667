"""Validating raw data and splits with Great Expectations, on small derived frames.

Expectations run on summaries (one row per feature, per split-and-class, per example hash)
rather than on one column per pixel, which keeps validation fast at MNIST scale.
"""
import itertools
import os
import re
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from stages.lib.checks import HINTS, Check
from stages.lib.drift import split_drift
from stages.lib.kinds import kind_of
from stages.lib.splitting import distinct, split_members, training_and_compared
from stages.lib.web_assets import make_data_docs_offline


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


def target_summary(y: np.ndarray, classification: bool) -> pd.DataFrame:
    """One row per target value (classification), or for finite and for non-finite targets (regression): how
    many examples have it and the first of them, so that the frame stays small at any size."""
    key = "target" if classification else "finite"
    values = pd.Series(y if classification else np.isfinite(y), name=key)
    examples = pd.Series(np.arange(len(y)), name="example").groupby(values, dropna=False, sort=True)
    return pd.DataFrame({"examples": examples.size(), "first_example": examples.min()}).reset_index()


def split_overlaps(hashes: np.ndarray, split: dict) -> pd.DataFrame:
    """For each fold: one row per example content found in more than one split (its hash and those splits), and
    one row per split counting the contents found in it alone, so that the frame stays small at any size."""
    members = split_members(split)
    test = [m for m in members if m[0] is None]
    rows = []
    for fold in sorted({m[0] for m in members if m[0] is not None}):
        parts = test + [m for m in members if m[0] == fold]
        names = np.array([name for _, name, _ in parts], dtype=object)
        contents = [distinct(hashes[indices]) for _, _, indices in parts]  # each part's contents once, sorted
        # A content in two parts or more: looked up in each other part's sorted contents (no joined copy of all).
        in_two = [np.zeros(len(c), dtype=bool) for c in contents]
        for p, q in itertools.permutations(range(len(parts)), 2):
            in_two[p] |= sorted_member(contents[p], contents[q])
        pairs = pd.DataFrame({"hash": np.concatenate([c[m] for c, m in zip(contents, in_two)]),
                              "split": np.concatenate([names[[p] * int(m.sum())] for p, m in enumerate(in_two)])}
                             ).sort_values(["hash", "split"])
        shared = pairs.groupby("hash", sort=True)["split"].agg(",".join)
        alone = np.array([len(m) - int(m.sum()) for m in in_two])
        rows.append(pd.DataFrame({"fold": str(fold), "hash": [_shown(h) for h in shared.index],
                                  "splits": shared.values, "n_splits": shared.str.count(",").to_numpy() + 1,
                                  "contents": 1}))
        rows.append(pd.DataFrame({"fold": str(fold), "hash": None, "splits": names[alone > 0],
                                  "n_splits": 1, "contents": alone[alone > 0]}))
    return pd.concat(rows, ignore_index=True)


def sorted_member(values: np.ndarray, sorted_values: np.ndarray) -> np.ndarray:
    """Whether each of `values` is in the sorted array `sorted_values`, by binary search."""
    if not len(sorted_values):
        return np.zeros(len(values), dtype=bool)
    found = np.searchsorted(sorted_values, values)
    np.minimum(found, len(sorted_values) - 1, out=found)
    return sorted_values[found] == values


def _shown(content_hash) -> str:
    """A hash as the reports show it: hexadecimal (a table row's is a 64-bit number)."""
    return content_hash if isinstance(content_hash, str) else f"{int(content_hash):016x}"


def arrow_of_time(time: np.ndarray, split: dict) -> pd.DataFrame:
    """Per fold: the earliest validation (or test) time against the latest training time."""
    time = pd.Series(time)  # datetimes print as 2024-01-31 00:00:00
    rows = []
    for fold, name, train, other in training_and_compared(split):
        latest, earliest = time.iloc[train].max(), time.iloc[other].min()
        rows.append({"fold": fold, "split": name, "latest_training": str(latest), "earliest": str(earliest),
                     "after_training": bool(earliest > latest)})
    return pd.DataFrame(rows)


def out_of_range(names: list, values: list, split: dict) -> pd.DataFrame:
    """Per fold, compared split and feature: the share of its values outside the training data's range
    (`values`: one array per name)."""
    rows = []
    for fold, name, train, other in training_and_compared(split):
        for column, feature in enumerate(names):
            reference, compared = values[column][train], values[column][other]
            reference, compared = reference[np.isfinite(reference)], compared[np.isfinite(compared)]
            share = 0.0
            if len(reference) and len(compared):
                share = float(np.mean((compared < reference.min()) | (compared > reference.max())))
            rows.append({"fold": fold, "split": name, "feature": feature, "out_of_range_share": share})
    return pd.DataFrame(rows)


# A counter may skip a few steps (rows dropped for a missing target, repeats removed).
TIME_INDEX_STEP_SHARE = 0.9


def time_index_columns(x: pd.DataFrame, numeric: list, time_column: str) -> pd.DataFrame:
    """Per numeric column: does it, ordered by time, hold whole numbers that only go one way, stepping by the
    same amount between most rows? That is a row id or counter: it encodes the time order and nothing else.
    A trending real series (population, spending) steps irregularly and is not one."""
    order = np.argsort(x[time_column].to_numpy(), kind="stable")
    rows = []
    for name in numeric:  # a column at a time, not a reordered copy of the table
        values = x[name].to_numpy(dtype=np.float64)[order]
        steps = np.diff(values)
        step, share = 0.0, 0.0
        whole = len(steps) > 0 and np.isfinite(values).all() and np.array_equal(values, np.round(values))
        if whole and ((steps > 0).all() or (steps < 0).all()):
            distinct, counts = np.unique(steps, return_counts=True)
            step, share = float(distinct[counts.argmax()]), float(counts.max() / len(steps))
        rows.append({"feature": name, "step": step, "step_share": share,
                     "encodes_time_order": share >= TIME_INDEX_STEP_SHARE})
    return pd.DataFrame(rows)


def is_time_ordered(raw: dict, split: dict) -> bool:
    """Whether the split runs from past to future (split files older than the flag: a time column was set)."""
    return bool(split.get("time_ordered", bool(raw.get("time_column"))))


def _enforced(enforce: bool, hint: str) -> dict:
    """An expectation's severity and notes: a reported-only one fails as a GX warning, which validate lets pass."""
    if enforce:
        return {"severity": "critical", "notes": HINTS[hint]}
    return {"severity": "warning", "notes": HINTS[f"{hint}_reported"]}


def _time_checks(raw: dict, x, split: dict, names: list, values: list, settings) -> list:
    """A time-ordered table: the arrow of time, counters that encode it, and values beyond the training range."""
    import great_expectations.expectations as gxe

    time_column = raw["time_column"]
    checks = [Check("arrow_of_time", arrow_of_time(x[time_column].to_numpy(), split), [
        gxe.ExpectColumnValuesToBeInSet(column="after_training", value_set=[True], notes=HINTS["arrow_of_time"]),
    ], ["fold", "split", "latest_training", "earliest"])]
    if not names:
        return checks
    limit = settings.max_out_of_range_share
    return checks + [
        Check("time_index", time_index_columns(x, names, time_column), [
            gxe.ExpectColumnValuesToBeInSet(column="encodes_time_order", value_set=[False],
                                            **_enforced(settings.time_index == "fail", "time_index")),
        ], ["feature", "step", "step_share"]),
        Check("out_of_range", out_of_range(names, values, split), [
            gxe.ExpectColumnValuesToBeBetween(column="out_of_range_share", max_value=0.0 if limit is None else limit,
                                              **_enforced(limit is not None, "out_of_range")),
        ], ["fold", "split", "feature"]),
    ]


def build_checks(raw: dict, x, y, split, settings, value_range: tuple, classes: list, seed: int) -> list:
    """The suites: schema, targets, representativeness of splits, leakage (duplicates, arrow of
    time, target leakage) and drift between splits. `raw` is collect's manifest; `classes` the
    labels a classification target must have.

    A time-ordered split compares the past with the future, so drift there is reported without
    failing (validate.drift: auto), and counters of time and values beyond the training range are checked."""
    import great_expectations.expectations as gxe

    kind = kind_of(raw)
    classification = raw["problem"] == "classification"
    targets = target_summary(y, classification)
    checks = [kind.schema_check(raw, x, value_range)]
    if classification:
        labels = HINTS["labels"]
        when = "_time" if is_time_ordered(raw, split) else ""  # a time-ordered split is not stratified
        checks += [
            Check("targets", targets, [
                gxe.ExpectColumnValuesToNotBeNull(column="target", notes=labels),
                gxe.ExpectColumnValuesToBeInSet(column="target", value_set=classes, notes=labels),
                gxe.ExpectColumnDistinctValuesToEqualSet(column="target", value_set=classes, notes=labels),
            ], ["first_example", "examples"]),
            Check("representativeness", class_proportions(y, split, classes), [
                gxe.ExpectColumnValuesToBeBetween(column="count", min_value=1, notes=HINTS["class_count" + when]),
                gxe.ExpectColumnValuesToBeBetween(column="gap", max_value=settings.max_class_proportion_gap,
                                                  notes=HINTS["class_gap" + when]),
            ], ["fold", "split", "class"]),
        ]
    else:
        checks.append(Check("targets", targets, [
            gxe.ExpectColumnValuesToBeInSet(column="finite", value_set=[True], notes=HINTS["finite_target"]),
        ], ["first_example", "examples"]))
    checks.append(Check("leakage", split_overlaps(kind.row_hashes(x), split), [
        gxe.ExpectColumnValuesToBeBetween(column="n_splits", max_value=1, notes=HINTS["leakage"]),
    ], ["fold", "hash", "splits"]))
    names, values = kind.drift_features(x, raw.get("columns"))
    time_ordered = is_time_ordered(raw, split)
    if raw.get("time_column"):
        checks += _time_checks(raw, x, split, names, values, settings)
    checks += kind.extra_checks(raw, x, y, split, settings, seed)
    if names:
        enforce = settings.drift == "fail" or (settings.drift == "auto" and not time_ordered)
        checks.append(Check("drift", split_drift(names, values, split, settings.max_js_divergence), [
            gxe.ExpectColumnValuesToBeInSet(column="drifted", value_set=[False], **_enforced(enforce, "drift")),
        ], ["fold", "split", "feature", "js_divergence", "ks_p_value"]))
    return checks


def _describe_expectation(config) -> str:
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id", "result_format")}
    return f"{config.type}({', '.join(f'{k}={v}' for k, v in kwargs.items())})"


def _offenders(result: dict, index_columns: list, limit: int = 50) -> list:
    """The rows that broke an expectation: their index columns first, then the offending value."""
    rows = result.get("unexpected_index_list") or []
    if rows:
        ordered = [{**{k: row[k] for k in index_columns}, **row} for row in rows[:limit]]
        return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()} for row in ordered]
    if "observed_value" in result:
        return [{"observed": result["observed_value"]}]
    return []


def blocking(outcomes: list) -> list:
    """The failed expectations that stop the pipeline (the others are reported only)."""
    return [o for o in outcomes if not o["success"] and o["severity"] == "critical"]


def reported(outcomes: list) -> list:
    """The failed expectations that are reported without stopping the pipeline."""
    return [o for o in outcomes if not o["success"] and o["severity"] != "critical"]


def run_checks(checks: list, docs_dir) -> list:
    """Run every check with Great Expectations; unless a critical expectation failed, render Data Docs
    into `docs_dir`, with local copies of the scripts and styles they load.

    Returns one outcome per expectation: suite, expectation, success, severity, what to do, offending rows.
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # Data Docs name their pages by the run's time: a fixed one keeps the same data giving the same bytes.
    fixed_run = RunIdentifier(run_name="validate", run_time=_FIXED_RUN_TIME)

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
            batch_parameters={"dataframe": check.frame}, run_id=fixed_run,
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": check.index_columns},
        )
        for item in result.results:
            config = item.expectation_config
            outcomes.append({
                "suite": check.name,
                "expectation": _describe_expectation(config),
                "success": bool(item.success),
                "severity": config.severity.value,
                "hint": config.notes,
                "offending": [] if item.success else _offenders(item.result, check.index_columns),
                "offending_count": 0 if item.success else item.result.get("unexpected_count", 1),
            })
    if not blocking(outcomes):
        context.build_data_docs(site_names=["project"])
        stabilize_docs(docs_dir)
        make_data_docs_offline(docs_dir)
    return outcomes


# Great Expectations' element ids end in "-<uuid4>" inside an attribute; a uuid in the data shown is left alone.
_UUID = re.compile(r"(?<=-)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?=[\" ])")
_CACHE_BUSTER = re.compile(r"\?d=\d{8}T\d{6}\.\d+Z")
_FIXED_RUN_TIME = datetime(2000, 1, 1, tzinfo=timezone.utc)
_LOAD_TIME = re.compile(r"(?!20000101T000000\.000000Z)\d{8}T\d{6}\.\d+Z")


def stabilize_docs(docs_dir) -> None:
    """Make Data Docs pages the same bytes for the same data: Great Expectations renders random element ids
    (uuid4), the build time and the batch's load time into them; ids become their order of appearance,
    the times go (the run's own time is fixed, see run_checks)."""
    for page in Path(docs_dir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        ids = {}
        stable = _UUID.sub(lambda m: ids.setdefault(m.group(0), f"id{len(ids) + 1}"), _LOAD_TIME.sub("-", _CACHE_BUSTER.sub("", text)))
        if stable != text:
            page.write_text(stable, encoding="utf-8")


def _rows(outcome: dict, limit: int = 5) -> str:
    rows = "; ".join(", ".join(f"{k}={v}" for k, v in row.items()) for row in outcome["offending"][:limit])
    more = outcome["offending_count"] - min(limit, len(outcome["offending"]))
    return (rows or "the table") + (f" and {more} more" if more > 0 else "")


def failure_message(outcomes: list) -> str:
    """One line naming each failed expectation, the rows (split, class, feature...) that broke it and what to do."""
    failed = blocking(outcomes)
    parts = [f"[{o['suite']}] {o['expectation']} failed for {_rows(o)}: {o['hint']}" for o in failed]
    return f"validation failed ({len(failed)} expectation(s)): " + " | ".join(parts)


def report_message(outcomes: list) -> str:
    """One line naming what was reported without failing, by suite and feature; empty when nothing was."""
    parts = []
    for outcome in reported(outcomes):
        largest = {}  # feature -> its largest offending value (the last item of a row) over folds and splits
        for row in outcome["offending"]:
            value = list(row.values())[-1]
            if "feature" in row and isinstance(value, float):
                largest[row["feature"]] = max(value, largest.get(row["feature"], value))
        named = ", ".join(f"{feature} {value:.2f}" for feature, value in largest.items())
        parts.append(f"[{outcome['suite']}] {named or _rows(outcome)}")
    return "reported without failing (see reports/validation_results.json): " + " | ".join(parts) if parts else ""


def summary_metrics(outcomes: list, checks: list, settings) -> dict:
    """Flat numbers for `dvc metrics diff`; a check that does not apply to the data is left out."""
    by_name = {check.name: check.frame for check in checks}
    summary = by_name["schema_and_ranges"]
    metrics = {
        "success": not blocking(outcomes),
        "expectations": len(outcomes),
        "failed_expectations": len(blocking(outcomes)),
        "reported_expectations": len(reported(outcomes)),
        "missing_values": int(summary["missing"].sum()) if "missing" in summary else 0,
        "cross_split_duplicates": int(by_name["leakage"].query("n_splits > 1")["contents"].sum()),
    }
    for name, column, key in (("representativeness", "gap", "max_class_proportion_gap"),
                              ("target_leakage", "single_feature_score", "max_single_feature_score"),
                              ("drift", "js_divergence", "max_js_divergence"),
                              ("out_of_range", "out_of_range_share", "max_out_of_range_share")):
        if name in by_name:
            metrics[key] = float(by_name[name][column].max())
    if "drift" in by_name:
        frame = by_name["drift"]
        drifted = frame.loc[frame["drifted"], "feature"]
        metrics["drifted_features"] = int(drifted.nunique())
    if "time_index" in by_name:
        metrics["time_index_columns"] = int(by_name["time_index"]["encodes_time_order"].sum())
    return metrics
