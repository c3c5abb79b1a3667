"""report: a Markdown pull-request report comparing the workspace (or a commit) with another revision.

    python -m stages.report --base main [--rev HEAD] [--output pr_report] [--fail-on-worse METRIC]

It writes OUTPUT/report.md (a verdict on every test score: better, worse or within noise; the
params, metrics and validation tables; changed plots) and the plots as PNG files in OUTPUT/plots/,
from committed files alone: no DVC remote is needed. With --fail-on-worse accuracy (repeatable) it
exits 1 when that test score got significantly worse, and only then: a CI gate that noise does not trip.
"""
import argparse
import io
import json
import tempfile
from pathlib import Path

import pandas as pd

from stages.lib import paths, pr_report, vcs
from stages.lib.errors import PipelineError, run_stage
from stages.lib.io import atomic_dir
from stages.lib.task import Task


def describe(rev) -> dict:
    """A revision's label (as DVC names it in its diffs), its title in the report and one line about it."""
    if rev is None:
        head = vcs.describe_commit("HEAD")
        changed = vcs.uncommitted(".")
        return {"label": vcs.WORKSPACE, "title": vcs.WORKSPACE, "description": f"the workspace on `{head['short']}` {head['subject']} "
                                                        f"({len(changed)} uncommitted file(s))"}
    info = vcs.describe_commit(rev)
    return {"label": rev, "title": info["short"] if rev == info["commit"] else rev,
            "description": f"`{info['short']}` {info['subject']} ({info['date']})"}


def _json_at(rev, path: str):
    text = vcs.read_at(rev, path)
    return json.loads(text) if text else None


def revision_results(rev) -> dict:
    """What the verdicts read at a revision (None: the workspace): evaluate.json, predictions.csv, environment.json."""
    predictions = vcs.read_at(rev, paths.TEST_PREDICTIONS)
    return {"evaluate": _json_at(rev, paths.EVALUATE_METRICS), "environment": _json_at(rev, paths.ENVIRONMENT),
            "task": _json_at(rev, paths.TASK),
            "predictions": pd.read_csv(io.StringIO(predictions)) if predictions else None}


def write_report(base: str, rev, output: Path) -> dict:
    """Compare `rev` (None: the workspace) with `base`; write OUTPUT/report.md and its plots."""
    base_info, head_info = describe(base), describe(rev)
    revisions = [base] + ([rev] if rev else [])
    labels = (base_info["label"], head_info["label"])
    params = pr_report.params_rows(vcs.dvc_json("params", "diff", *revisions))
    all_metrics = vcs.dvc_json("metrics", "diff", *revisions, "--all")
    metrics = pr_report.metric_rows(all_metrics, files=set(all_metrics) - {paths.VALIDATION})
    validation = pr_report.metric_rows(all_metrics, files={paths.VALIDATION}, changed_only=False)
    stale = sorted(vcs.dvc_json("status")) if rev is None else []
    results = [revision_results(base), revision_results(rev)]
    label, task = (labels[1], results[1]["task"]) if results[1]["task"] else (labels[0], results[0]["task"])
    judged = (pr_report.judge_metrics(Task.from_dict(task, f"{paths.TASK} at {label}"), *results) if task
              else {"method": "no reports/task.json", "rows": {}})
    machines = pr_report.machine_note(results[0]["environment"], results[1]["environment"])
    with tempfile.TemporaryDirectory() as images, atomic_dir(output) as folder:
        plots = vcs.dvc_json("plots", "diff", *revisions, "-o", images).get("data", {})
        (folder / "plots").mkdir()
        shown = {plot_id: pr_report.render_plot(plot_id, entries, labels, folder / "plots")
                 for plot_id, entries in plots.items() if pr_report.plot_changed(entries, labels)}
        (folder / "report.md").write_text(pr_report.markdown(
            base_info, head_info, params, metrics, validation, shown, len(plots) - len(shown), stale, judged,
            machines))
    scores = pr_report.headline_metrics(results[1]["evaluate"] or {})
    return {"params": len(params), "metrics": len(metrics), "plots": len(shown), "verdicts": judged["rows"],
            "scores": scores, "method": judged["method"]}


def check_not_worse(verdicts: dict, metrics: list, output: str, scores: list, method: str = "") -> None:
    """Exit 1 (a PipelineError) when one of `metrics` (accuracy or test_accuracy) got significantly worse.

    `scores` are the test scores of the compared revision: a name outside them is a mistake; one the
    base cannot be compared on (no evaluate.json there yet) passes with a notice.
    """
    for name in metrics:
        key = name if name.startswith("test_") else f"test_{name}"
        if key not in scores:
            known = ", ".join(k.removeprefix("test_") for k in scores) or "none: it has no evaluate.json"
            raise PipelineError(f"--fail-on-worse {name}: the compared revision has no such test score (known: {known})")
        if key not in verdicts:
            print(f"report: --fail-on-worse {name} not judged ({method}): passing")
            continue
        row = verdicts[key]
        if row["verdict"] == "worse":
            raise PipelineError(f"{key} got significantly worse: {row['old']:.4g} -> {row['new']:.4g} "
                                f"(change {row['difference']:+.4g}, 95% interval {row['ci_low']:+.4g} to "
                                f"{row['ci_high']:+.4g}); see {output}/report.md")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m stages.report", description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the git revision to compare with (branch, tag or commit)")
    parser.add_argument("--rev", help="the git revision to report on (default: the workspace)")
    parser.add_argument("--output", default="pr_report", help="folder for report.md and plots/ (default: %(default)s)")
    parser.add_argument("--fail-on-worse", action="append", default=[], metavar="METRIC",
                        help="exit 1 when this test score (accuracy, mae, ...) got significantly worse; repeatable")
    args = parser.parse_args()
    output = Path(args.output)
    if output.exists() and not (output / "report.md").is_file():
        raise PipelineError(f"--output {output} exists and is not a report folder (it would be replaced): "
                            "give a new folder, or a previous report's")
    vcs.resolve_revision(args.base)
    if args.rev:
        vcs.resolve_revision(args.rev)
    counts = write_report(args.base, args.rev, output)
    verdicts = [row["verdict"] for row in counts["verdicts"].values()]
    tally = ", ".join(f"{verdicts.count(v)} {v}" for v in ("worse", "better", "within noise", "not judged")
                      if verdicts.count(v))
    print(f"report: {counts['params']} param(s), {counts['metrics']} metric(s) and {counts['plots']} plot(s) "
          f"changed; test scores: {tally or 'none to judge'} -> {args.output}/report.md")
    check_not_worse(counts["verdicts"], args.fail_on_worse, args.output, counts["scores"], counts["method"])


if __name__ == "__main__":
    run_stage(main)
