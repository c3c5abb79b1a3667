"""report: a Markdown pull-request report comparing the workspace (or a commit) with another revision.

    python -m stages.report --base main [--rev HEAD] [--output pr_report]

It writes OUTPUT/report.md (params, metrics and validation tables, changed plots) and the
plots as PNG files in OUTPUT/plots/, from committed files alone: no DVC remote is needed.
"""
import argparse
import tempfile
from pathlib import Path

from stages.lib import paths, pr_report, vcs
from stages.lib.errors import PipelineError, run_stage
from stages.lib.io import atomic_dir


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
    with tempfile.TemporaryDirectory() as images, atomic_dir(output) as folder:
        plots = vcs.dvc_json("plots", "diff", *revisions, "-o", images).get("data", {})
        (folder / "plots").mkdir()
        shown = {plot_id: pr_report.render_plot(plot_id, entries, labels, folder / "plots")
                 for plot_id, entries in plots.items() if pr_report.plot_changed(entries, labels)}
        (folder / "report.md").write_text(pr_report.markdown(
            base_info, head_info, params, metrics, validation, shown, len(plots) - len(shown), stale))
    return {"params": len(params), "metrics": len(metrics), "plots": len(shown)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m stages.report", description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the git revision to compare with (branch, tag or commit)")
    parser.add_argument("--rev", help="the git revision to report on (default: the workspace)")
    parser.add_argument("--output", default="pr_report", help="folder for report.md and plots/ (default: %(default)s)")
    args = parser.parse_args()
    output = Path(args.output)
    if output.exists() and not (output / "report.md").is_file():
        raise PipelineError(f"--output {output} exists and is not a report folder (it would be replaced): "
                            "give a new folder, or a previous report's")
    vcs.resolve_revision(args.base)
    if args.rev:
        vcs.resolve_revision(args.rev)
    counts = write_report(args.base, args.rev, output)
    print(f"report: {counts['params']} param(s), {counts['metrics']} metric(s) and {counts['plots']} plot(s) "
          f"changed -> {args.output}/report.md")


if __name__ == "__main__":
    run_stage(main)
