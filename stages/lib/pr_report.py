"""A Markdown pull-request report from DVC's own diffs: params, metrics, validation, changed plots.

The plots are DVC's Vega-Lite specs (its templates, both revisions' data inlined) rendered to
PNG locally by vl-convert, so the report needs no network and no DVC remote.
"""
import json
import re
import shutil
from pathlib import Path

from stages.lib import paths

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


def _cell(value) -> str:
    return fmt(value).replace("|", "\\|").replace("\n", " ")


def table(header: list, rows: list) -> list:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]


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
        return ["| " + " | ".join(revisions) + " |", "|---|---|", "| " + " | ".join(cells) + " |"]
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
             unchanged_plots: int, stale: list) -> str:
    """The report. `base`/`head` title and describe the revisions; `plots` maps plot ids to Markdown lines."""
    lines = [f"# Pipeline report: {head['title']} vs {base['title']}", "",
             f"- **base**: {base['description']}", f"- **compared**: {head['description']}"]
    if stale:
        lines += ["", f"> **Warning:** the workspace differs from dvc.lock in {', '.join(stale)}: "
                      "run `dvc repro` so that the numbers below describe this code and data."]
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
