"""The pull-request report's tables and plot handling; tests/test_pipeline_end_to_end.py reports on real commits."""
import subprocess

import pytest

from stages.lib import paths, pr_report
from tests.conftest import classification_task, run_module

PARAMS_DIFF = {"params.yaml": {"overfit.epochs": {"old": 30, "new": 5},
                               "baseline.classification": {"old": "['most_frequent']", "new": "['uniform']"}}}
METRICS_DIFF = {
    paths.EVALUATE_METRICS: {"test_accuracy": {"old": 0.9861, "new": 0.975, "diff": -0.0111},
                             "primary_metric": {"old": "accuracy", "new": "accuracy", "diff": 0}},
    paths.VALIDATION: {"success": {"old": True, "new": True, "diff": 0}},
    paths.BASELINE_METRICS: {"uniform.accuracy": {"old": None, "new": 0.1}},
}


def test_params_rows_hold_both_values():
    assert pr_report.params_rows(PARAMS_DIFF) == [
        ("params.yaml", "baseline.classification", "['most_frequent']", "['uniform']"),
        ("params.yaml", "overfit.epochs", 30, 5)]


def test_metric_rows_keep_what_changed_with_the_difference_when_both_are_numbers():
    rows = pr_report.metric_rows(METRICS_DIFF, files=set(METRICS_DIFF) - {paths.VALIDATION})
    assert rows == [(paths.BASELINE_METRICS, "uniform.accuracy", None, 0.1, None),
                    (paths.EVALUATE_METRICS, "test_accuracy", 0.9861, 0.975, pytest.approx(-0.0111))]
    everything = pr_report.metric_rows(METRICS_DIFF, files={paths.VALIDATION}, changed_only=False)
    assert everything == [(paths.VALIDATION, "success", True, True, None)]


def vega(rows_by_rev: dict) -> list:
    values = [{**row, "rev": rev} for rev, rows in rows_by_rev.items() for row in rows]
    return [{"type": "vega", "revisions": list(rows_by_rev),
             "content": {"data": {"values": values}, "mark": "line",
                         "encoding": {"x": {"field": "epoch", "type": "quantitative"},
                                      "y": {"field": "loss", "type": "quantitative"},
                                      "color": {"field": "rev", "type": "nominal"}}}}]


def test_a_plot_changed_when_its_data_differs_between_the_revisions():
    same = vega({"main": [{"epoch": 1, "loss": 0.5}], "workspace": [{"epoch": 1, "loss": 0.5}]})
    moved = vega({"main": [{"epoch": 1, "loss": 0.5}], "workspace": [{"epoch": 1, "loss": 0.4}]})
    new = vega({"workspace": [{"epoch": 1, "loss": 0.4}]})
    assert not pr_report.plot_changed(same, ("main", "workspace"))
    assert pr_report.plot_changed(moved, ("main", "workspace"))
    assert pr_report.plot_changed(new, ("main", "workspace"))


def test_an_image_plot_changed_when_its_bytes_differ(tmp_path):
    for name, data in (("a.png", b"one"), ("b.png", b"one"), ("c.png", b"two")):
        (tmp_path / name).write_bytes(data)

    def images(first, second):
        return [{"type": "image", "revisions": ["main"], "url": str(tmp_path / first)},
                {"type": "image", "revisions": ["workspace"], "url": str(tmp_path / second)}]

    assert not pr_report.plot_changed(images("a.png", "b.png"), ("main", "workspace"))
    assert pr_report.plot_changed(images("a.png", "c.png"), ("main", "workspace"))
    assert pr_report.plot_changed(images("a.png", "missing.png"), ("main", "workspace"))


def test_plots_are_rendered_to_png_locally(tmp_path):
    plot = vega({"main": [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.3}],
                 "workspace": [{"epoch": 1, "loss": 0.4}, {"epoch": 2, "loss": 0.2}]})
    lines = pr_report.render_plot("reports/plots/overfit_history.csv", plot, ("main", "workspace"), tmp_path)
    assert lines == ["![reports/plots/overfit_history.csv](plots/reports_plots_overfit_history.csv.png)"]
    assert (tmp_path / "reports_plots_overfit_history.csv.png").read_bytes().startswith(b"\x89PNG")
    (tmp_path / "before.png").write_bytes(b"\x89PNG old")
    image = [{"type": "image", "revisions": ["main"], "url": str(tmp_path / "before.png")}]
    lines = pr_report.render_plot("reports/figures/x.png", image, ("main", "workspace"), tmp_path)
    assert "![reports/figures/x.png at main](plots/main_reports_figures_x.png)" in lines[-1]
    assert "(no reports/figures/x.png at workspace)" in lines[-1]


def test_the_markdown_shows_both_revisions_values_and_folds_long_tables():
    base, head = {"title": "main", "description": "`abc1234` base"}, {"title": "workspace", "description": "here"}
    metrics = pr_report.metric_rows(METRICS_DIFF, files=set(METRICS_DIFF) - {paths.VALIDATION})
    many = [(paths.OVERFIT_METRICS, f"m{i}", 0.1, 0.2, 0.1) for i in range(20)]
    text = pr_report.markdown(base, head, pr_report.params_rows(PARAMS_DIFF), metrics + many,
                              pr_report.metric_rows(METRICS_DIFF, {paths.VALIDATION}, changed_only=False),
                              {"learning_curves_loss": ["![l](plots/l.png)"]}, 3, ["regularize"])
    assert "| params.yaml | overfit.epochs | 30 | 5 |" in text
    assert "| test_accuracy | 0.9861 | 0.975 | -0.0111 |" in text
    assert "| uniform.accuracy | — | 0.1 | — |" in text
    assert "| success | true | true |" in text
    assert "### learning_curves_loss" in text and "3 other plot(s) unchanged." in text
    assert "differs from dvc.lock in regularize" in text
    assert text.index(paths.EVALUATE_METRICS) < text.index(paths.OVERFIT_METRICS) < text.index(paths.BASELINE_METRICS)
    assert "<details><summary>20 changed</summary>" in text
    empty = pr_report.markdown(base, head, [], [], [], {}, 0, [])
    assert "No params changed." in empty and "No metric changed." in empty and "No plot changed." in empty


def cli(folder, *args):
    return run_module("stages.report", folder, *args)


def test_the_command_fails_with_one_line_for_a_bad_revision_or_output_folder(tmp_path):
    result = cli(tmp_path, "--base", "main")
    assert result.returncode == 1 and "not inside a git repository" in result.stderr
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@localhost"]
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "notes.txt").write_text("keep me")
    subprocess.run([*git, "add", "notes.txt"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "first"], cwd=tmp_path, check=True)
    result = cli(tmp_path, "--base", "no-such-branch")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "unknown git revision 'no-such-branch'" in result.stderr
    result = cli(tmp_path, "--base", "HEAD", "--rev", "HEAD~5")
    assert result.returncode == 1 and "unknown git revision 'HEAD~5'" in result.stderr
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "task.json").write_text("{}")
    result = cli(tmp_path, "--base", "HEAD", "--output", "reports")
    assert result.returncode == 1 and "--output reports exists and is not a report folder" in result.stderr
    assert (tmp_path / "reports" / "task.json").read_text() == "{}"


def predictions(actual, output, examples=None):
    import numpy as np

    from stages.lib.evaluation import predictions_frame

    return predictions_frame(TEN, np.arange(len(actual)) if examples is None else examples, np.asarray(actual),
                             np.asarray(output))


TEN = classification_task(10)


def revisions(n=400, flipped=(0, 0)):
    """Two revisions' predictions on the same n examples: the base wrong on flipped[0] of them, the new
    revision on flipped[1] (other examples)."""
    import numpy as np

    y = np.arange(n) % 10
    base, new = np.eye(10)[y] * 0.9 + 0.01, np.eye(10)[y] * 0.9 + 0.01
    base[np.arange(flipped[0]), :] = np.roll(base[np.arange(flipped[0])], 1, axis=1)
    chosen = np.arange(n - flipped[1], n)
    new[chosen, :] = np.roll(new[chosen], 1, axis=1)
    from stages.lib.evaluation import task_scores

    return tuple({"evaluate": {f"test_{k}": v for k, v in task_scores(TEN, y, output).items()},
                  "predictions": predictions(y, output)} for output in (base, new))


def test_verdicts_from_paired_predictions():
    base, head = revisions(flipped=(0, 40))
    judged = pr_report.judge_metrics(TEN, base, head)
    row = judged["rows"]["test_accuracy"]
    assert row["verdict"] == "worse" and row["difference"] == pytest.approx(-0.1) and row["ci_high"] < 0
    assert "paired bootstrap over the same 400 test examples" in judged["method"]
    assert judged["rows"]["test_log_loss"]["verdict"] == "worse"  # lower is better: it went up
    one_example = pr_report.judge_metrics(TEN, *revisions(flipped=(0, 1)))["rows"]["test_accuracy"]
    assert one_example["verdict"] == "within noise"
    assert pr_report.judge_metrics(TEN, *revisions(flipped=(40, 0)))["rows"]["test_accuracy"]["verdict"] == "better"


def test_seed_noise_turns_a_real_but_small_drop_into_noise():
    base, head = revisions(flipped=(0, 12))
    assert pr_report.judge_metrics(TEN, base, head)["rows"]["test_accuracy"]["verdict"] == "worse"
    head["evaluate"].update(seeds=3, test_accuracy_seed_std=0.02)
    judged = pr_report.judge_metrics(TEN, base, head)
    assert judged["rows"]["test_accuracy"]["verdict"] == "within noise"
    assert "training noise from 3 seeds" in judged["method"]


def test_different_test_examples_fall_back_on_each_revisions_interval():
    import numpy as np

    base, head = revisions(flipped=(0, 40))
    head["predictions"]["example"] += 1000  # another test split
    base["evaluate"].update(test_accuracy_ci_low=0.99, test_accuracy_ci_high=1.0)
    head["evaluate"].update(test_accuracy_ci_low=0.87, test_accuracy_ci_high=0.93)
    judged = pr_report.judge_metrics(TEN, base, head)
    assert judged["rows"]["test_accuracy"]["verdict"] == "worse" and "combined as independent" in judged["method"]
    for end in ("low", "high"):  # a base from before intervals: taken as wide as the compared revision's
        base["evaluate"].pop(f"test_accuracy_ci_{end}")
    row = pr_report.judge_metrics(TEN, base, head)["rows"]["test_accuracy"]
    assert row["verdict"] == "worse" and row["ci_high"] == pytest.approx(-0.1 + np.hypot(0.03, 0.03))
    head["evaluate"].pop("test_accuracy_ci_low")
    assert pr_report.judge_metrics(TEN, base, head)["rows"]["test_accuracy"]["verdict"] == "not judged"


def test_same_scores_are_unchanged_and_the_verdicts_show_in_the_markdown():
    base, head = revisions()
    judged = pr_report.judge_metrics(TEN, base, head)
    assert {row["verdict"] for row in judged["rows"].values()} == {"unchanged"}
    text = pr_report.markdown({"title": "main", "description": "d"}, {"title": "workspace", "description": "d"},
                              [], [], [], {}, 0, [], pr_report.judge_metrics(TEN, *revisions(flipped=(0, 40))))
    assert "## Verdicts on the test scores" in text and "| test_accuracy | 1 | 0.9 | -0.1 |" in text
    assert "**worse**" in text


def test_a_note_when_the_revisions_ran_on_different_machines():
    """The other machine is this one's description changed, so it differs on any CPU (tests/
    test_machine_independence.py: no ISA named literally next to the host's description)."""
    from stages.lib.environment import ISA_LEVELS, describe

    here = describe()
    other_isa = next(name for name, _ in ISA_LEVELS if name != here["cpu_isa"])
    elsewhere = {**here, "cpu_model": f"Another CPU than {here['cpu_model']}", "cpu_isa": other_isa}
    record = lambda machine: {"machines": {"m": machine}, "stages": {"evaluate": "m"}}  # noqa: E731
    assert pr_report.machine_note(record(here), record(here)) == []
    assert pr_report.machine_note(None, record(here)) == []
    note = pr_report.machine_note(record(elsewhere), record(here))
    assert len(note) == 1 and "cpu_model, cpu_isa" in note[0]
    assert f"evaluated on Another CPU than {here['cpu_model']} ({other_isa}, " in note[0]


def test_fail_on_worse_fires_only_on_a_worse_verdict():
    from stages.lib.errors import PipelineError
    from stages.report import check_not_worse

    verdicts = {"test_accuracy": {"old": 0.98, "new": 0.9, "difference": -0.08, "ci_low": -0.1, "ci_high": -0.06,
                                  "verdict": "worse"},
                "test_f1": {"old": 0.98, "new": 0.97, "difference": -0.01, "ci_low": -0.03, "ci_high": 0.01,
                            "verdict": "within noise"}}
    scores = ["test_accuracy", "test_f1"]
    check_not_worse(verdicts, ["f1", "test_f1"], "out", scores)
    with pytest.raises(PipelineError, match=r"^test_accuracy got significantly worse: 0.98 -> 0.9 \(change -0.08"):
        check_not_worse(verdicts, ["accuracy"], "out", scores)
    with pytest.raises(PipelineError, match=r"--fail-on-worse auc: the compared revision has no such test score "
                                            r"\(known: accuracy, f1\)"):
        check_not_worse(verdicts, ["auc"], "out", scores)
    check_not_worse({}, ["accuracy"], "out", scores, "no evaluate.json at one of the revisions")  # a first run passes
