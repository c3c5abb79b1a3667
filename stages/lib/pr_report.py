"""A Markdown pull-request report from DVC's own diffs: params, metrics, validation, changed plots.

The plots are DVC's Vega-Lite specs (its templates, both revisions' data inlined) rendered to
PNG locally by vl-convert, so the report needs no network and no DVC remote.
"""
import json
import re
import shutil
from pathlib import Path

import numpy as np

from stages.lib import paths
from stages.lib.evaluation import from_predictions, one_example
from stages.lib.intervals import percentile_interval
from stages.lib.markdown import table as markdown_table
from stages.lib.paired import BOOTSTRAP_RESAMPLES, judge_change, paired_changes
from stages.lib.task import Task

# Fields DVC adds to plot data; they name the revision, not the data.
_PLOT_BOOKKEEPING = {"rev"}
_HEADLINE = [paths.EVALUATE_METRICS, paths.REGULARIZE_METRICS, paths.OVERFIT_METRICS, paths.BASELINE_METRICS]
_FOLD_ROWS = 12


def fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def table(header: list, rows: list) -> list:
    """The lines of a Markdown table, each value as fmt shows it."""
    return markdown_table(header, [[fmt(v) for v in row] for row in rows]).split("\n")


def _file_order(file: str) -> tuple:
    """The model's test scores first, then the stages backwards to the baseline, then the rest."""
    return (_HEADLINE.index(file) if file in _HEADLINE else len(_HEADLINE), file)


def params_rows(params_diff: dict) -> list:
    """(file, param, base value, new value) for every param that changed."""
    return [(file, key, change.get("old"), change.get("new"))
            for file, changes in sorted(params_diff.items()) for key, change in sorted(changes.items())]


def metric_rows(metrics_diff: dict, files: set = None, changed_only: bool = True) -> list:
    """(file, metric, base, new, change) from `dvc metrics diff --all --json`."""
    rows = []
    for file, metrics in sorted(metrics_diff.items()):
        if files is not None and file not in files:
            continue
        for key, change in sorted(metrics.items()):
            old, new = change.get("old"), change.get("new")
            if changed_only and old == new:
                continue
            numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (old, new))
            rows.append((file, key, old, new, new - old if numeric else None))
    return rows


def headline_metrics(evaluate: dict) -> list:
    """The model's test scores in an evaluate.json: test_<metric>, without their intervals and seed spreads."""
    return [key for key, value in evaluate.items() if key.startswith("test_") and isinstance(value, (int, float))
            and not key.endswith(("_ci_low", "_ci_high", "_seed_mean", "_seed_std"))]


def _seed_std(revisions: list, key: str) -> float:
    return max((rev["evaluate"].get(f"{key}_seed_std") or 0.0) for rev in revisions if rev["evaluate"])


def _half_width(evaluate: dict, key: str):
    low, high = evaluate.get(f"{key}_ci_low"), evaluate.get(f"{key}_ci_high")
    return None if low is None or high is None else (high - low) / 2


def same_examples(base, head) -> bool:
    """Whether two predictions tables hold the same test examples with the same actual values, in order."""
    return (base is not None and head is not None and len(base) == len(head)
            and np.array_equal(base["example"].to_numpy(), head["example"].to_numpy())
            and np.array_equal(base["actual"].to_numpy(), head["actual"].to_numpy()))


def judge_metrics(task: Task, base: dict, head: dict, seed: int = 0) -> dict:
    """A verdict on every headline metric, from each revision's {"evaluate": evaluate.json or None,
    "predictions": reports/predictions.csv as a frame or None}.

    Same test examples at both: the paired bootstrap over them (what each revision's model predicted
    for each example). Otherwise both revisions' own intervals, combined as independent. Either way
    the seed-to-seed spread (evaluate.seeds > 1) widens the interval, and a change smaller than one
    test example can make is within noise. Returns {"method": ..., "rows": {metric: row}}.
    """
    if not base["evaluate"] or not head["evaluate"]:
        return {"method": "no reports/metrics/evaluate.json at one of the revisions", "rows": {}}
    keys = [k for k in headline_metrics(head["evaluate"]) if k in base["evaluate"]]
    paired = same_examples(base["predictions"], head["predictions"])
    changes = {}
    if paired:
        _, y_true, base_output = from_predictions(base["predictions"])
        head_output = from_predictions(head["predictions"])[2]
        changes = paired_changes(task, y_true, base_output, head_output, BOOTSTRAP_RESAMPLES, seed)
    def halves(key: str) -> list:
        return [_half_width(rev["evaluate"], key) for rev in (base, head)]

    rows = {}
    for key in keys:
        metric, old, new = key.removeprefix("test_"), base["evaluate"][key], head["evaluate"][key]
        seed_std = _seed_std([base, head], key)
        if paired:
            change = changes[metric]
            resolution = one_example(task, metric, y_true, base_output, head_output)
            verdict = judge_change(key, change["difference"], percentile_interval(change["resampled"]), resolution,
                                   seed_std)
        elif known := [h for h in halves(key) if h is not None]:
            # a revision without intervals (made before they existed) is taken as uncertain as the other
            half = float(np.hypot(*(known[0] if h is None else h for h in halves(key))))
            verdict = judge_change(key, new - old, (new - old - half, new - old + half), seed_std=seed_std)
        else:
            verdict = {"difference": new - old, "ci_low": None, "ci_high": None, "verdict": "not judged"}
        if old == new and verdict["verdict"] != "not judged":
            verdict["verdict"] = "unchanged"
        rows[key] = {"old": old, "new": new, **verdict}
    if paired:
        method = (f"paired bootstrap over the same {len(y_true)} test examples ({BOOTSTRAP_RESAMPLES} resamples of "
                  "reports/predictions.csv at both revisions)")
    else:
        method = ("the test examples differ between the revisions (or one has no reports/predictions.csv): "
                  "each revision's own 95% intervals (one without them taken as wide as the other's), "
                  "combined as independent")
    noise = max((_seed_std([base, head], key) for key in keys), default=0.0)
    seeds = max(rev["evaluate"].get("seeds") or 1 for rev in (base, head))
    method += (f"; training noise from {seeds} seeds (evaluate.seeds) widens each interval" if noise
               else "; training noise not measured (evaluate.seeds: 1)")
    return {"method": method, "rows": rows}


def verdict_lines(judged: dict, base_title: str, head_title: str) -> list:
    rows = [(key, r["old"], r["new"], r["difference"],
             "—" if r["ci_low"] is None else f"{r['ci_low']:+.4g} to {r['ci_high']:+.4g}", f"**{r['verdict']}**"
             if r["verdict"] in ("better", "worse") else r["verdict"]) for key, r in judged["rows"].items()]
    if not rows:
        return [f"Not judged: {judged['method']}."]
    return [*table(["metric", base_title, head_title, "change", "95% interval of the change", "verdict"], rows), "",
            f"How: {judged['method']}. Better or worse means the interval excludes zero and the change is at least "
            "what one test example can make; anything else is within noise."]


def machine_note(base_environment, head_environment) -> list:
    """A warning line when the two revisions' evaluate stage ran on different machines."""
    from stages.lib.environment import differences, summary

    machines = [evaluate_machine(environment) for environment in (base_environment, head_environment)]
    if None in machines:
        return []
    differing = differences(*machines)
    if not differing:
        return []
    return [f"> **Different machines:** the base was evaluated on {summary(machines[0])}, the compared revision on "
            f"{summary(machines[1])} (they differ in {', '.join(differing)}). Float results differ between CPUs: "
            "differences inside the intervals below are expected, and the verdicts read them as noise."]


def evaluate_machine(environment):
    """The description of the machine the evaluate stage ran on, from a reports/environment.json; None if unknown."""
    if not environment:
        return None
    machine = environment.get("stages", {}).get("evaluate")
    return environment.get("machines", {}).get(machine)


def _data_by_revision(content: dict) -> dict:
    by_rev = {}
    for row in content.get("data", {}).get("values", []):
        clean = {k: v for k, v in row.items() if k not in _PLOT_BOOKKEEPING}
        by_rev.setdefault(row.get("rev"), []).append(json.dumps(clean, sort_keys=True))
    return by_rev


def plot_changed(entries: list, revisions: tuple) -> bool:
    """Whether a plot's data (vega) or image bytes differ between the two revisions."""
    if entries and entries[0].get("type") == "image":
        images = {entry["revisions"][0]: Path(entry["url"]) for entry in entries}
        found = [images[rev].read_bytes() if rev in images and images[rev].exists() else None for rev in revisions]
        return found[0] != found[1]
    data = {}
    for entry in entries:
        data.update(_data_by_revision(entry["content"]))
    return data.get(revisions[0]) != data.get(revisions[1])


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")


def render_plot(plot_id: str, entries: list, revisions: tuple, folder: Path) -> list:
    """Write the plot's PNG(s) into `folder`; return Markdown lines that show them."""
    import vl_convert

    if entries[0].get("type") == "image":
        images = {entry["revisions"][0]: Path(entry["url"]) for entry in entries}
        cells = []
        for rev in revisions:
            if rev in images and images[rev].exists():
                name = f"{slug(rev)}_{slug(plot_id)}"
                shutil.copyfile(images[rev], folder / name)
                cells.append(f"![{plot_id} at {rev}](plots/{name})")
            else:
                cells.append(f"(no {plot_id} at {rev})")
        return markdown_table(revisions, [cells]).split("\n")
    lines = []
    for index, entry in enumerate(entries):
        name = f"{slug(plot_id)}{f'_{index}' if index else ''}.png"
        try:
            (folder / name).write_bytes(vl_convert.vegalite_to_png(entry["content"], scale=1))
        except Exception as error:  # a spec vl-convert cannot draw must not sink the whole report
            lines.append(f"(could not render {plot_id}: {str(error).splitlines()[0][:200]})")
            continue
        lines.append(f"![{plot_id}](plots/{name})")
    return lines


def markdown(base: dict, head: dict, params: list, metrics: list, validation: list, plots: dict,
             unchanged_plots: int, stale: list, judged: dict = None, machines: list = ()) -> str:
    """The report. `base`/`head` title and describe the revisions; `plots` maps plot ids to Markdown lines;
    `judged` is judge_metrics' verdicts, `machines` machine_note's lines."""
    lines = [f"# Pipeline report: {head['title']} vs {base['title']}", "",
             f"- **base**: {base['description']}", f"- **compared**: {head['description']}"]
    if machines:
        lines += ["", *machines]
    if stale:
        lines += ["", f"> **Warning:** the workspace differs from dvc.lock in {', '.join(stale)}: "
                      "run `dvc repro` so that the numbers below describe this code and data."]
    if judged is not None:
        lines += ["", "## Verdicts on the test scores", "", *verdict_lines(judged, base["title"], head["title"])]
    lines += ["", "## Params", ""]
    lines += table(["file", "param", base["title"], head["title"]], params) if params else ["No params changed."]
    lines += ["", "## Metrics", ""]
    if not metrics:
        lines.append("No metric changed.")
    for file in sorted({row[0] for row in metrics}, key=_file_order):
        rows = [row[1:] for row in metrics if row[0] == file]
        rendered = table(["metric", base["title"], head["title"], "change"], rows)
        if len(rows) > _FOLD_ROWS and file != paths.EVALUATE_METRICS:  # keeps the test scores in view
            rendered = [f"<details><summary>{len(rows)} changed</summary>", "", *rendered, "", "</details>"]
        lines += [f"### {file}", "", *rendered, ""]
    lines += ["", f"## Validation ({paths.VALIDATION})", ""]
    if validation:
        lines += table(["check", base["title"], head["title"]], [(key, old, new) for _, key, old, new, _ in validation])
    else:
        lines.append("No validation summary at either revision.")
    lines += ["", "## Plots that changed", ""]
    if not plots:
        lines.append("No plot changed.")
    for plot_id, shown in plots.items():
        lines += [f"### {plot_id}", "", *shown, ""]
    if unchanged_plots:
        lines += ["", f"{unchanged_plots} other plot(s) unchanged."]
    return "\n".join(lines).rstrip() + "\n"
