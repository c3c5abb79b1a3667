"""The model card's logic on small report files written the way the stages write them; the real
pipeline's cards are checked in the end-to-end tests, and in Chromium in test_model_card_browser.py."""
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stages.lib import model_card, paths
from stages.lib.evaluation import predictions_frame, task_scores
from stages.lib.intervals import with_interval
from stages.lib.io import write_csv, write_json
from stages.lib.plots import image_png
from stages.lib.sequences import Sequences
from stages.lib.task import define_task
from stages.lib.splitting import write_split
from tests.conftest import holdout_split, run_module, write_raw

HOSTILE = '<script>alert("x")</script><img src="http://example.com/x.png">'
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "log_loss")


def with_fake_intervals(scores: dict, prefix: str = "test_") -> dict:
    flat = {}
    for metric, value in scores.items():
        flat[f"{prefix}{metric}"] = value
        flat[f"{prefix}{metric}_ci_low"], flat[f"{prefix}{metric}_ci_high"] = value - 0.01, value + 0.01
    return flat


def examples_of(kind: str, n: int, rng):
    """Raw examples of a kind, as collect writes them, and the manifest details a table or texts add."""
    if kind == "images":
        return rng.integers(0, 17, size=(n, 8, 8)).astype(np.float64), "digits", {}
    if kind == "sequences":
        return Sequences.from_lists([list(rng.integers(1, 50, 5 + i % 60)) for i in range(n)]), "imdb", {}
    if kind == "text":
        texts = np.array([f"review {i} " + ("great " * (i % 90)) + (HOSTILE if i % 3 == 0 else "")
                          for i in range(n)], dtype=object)
        return texts, "text", {"file": "data/reviews.csv", "file_sha256": "ab" * 32, "target": "label",
                               "class_names": ["neg", HOSTILE]}
    frame = pd.DataFrame({"radius": rng.normal(10, 2, n), "city": [HOSTILE if i % 2 else "paris" for i in range(n)]})
    details = {"file": "data/t.csv", "file_sha256": "cd" * 32, "target": "y", "excluded": {"id": "an identifier"}}
    return frame, "table", details


def write_reports(root: Path, kind: str = "images", problem: str = "classification", n_classes: int = 3,
                  n: int = 100, optional: bool = True, rejected: bool = False) -> dict:
    """Every file the model card reads, as the stages before it write them, for a small run of `kind`."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    (root / "params.yaml").write_text((Path(__file__).resolve().parent.parent / "params.yaml").read_text())
    x, spec, details = examples_of(kind, n, rng)
    if problem == "regression":
        y = rng.normal(50, 10, n)
        details = {**details, "problem": "regression", "class_names": []}
    else:
        y = np.arange(n) % n_classes
        details = {**details, "problem": "classification"}
        details.setdefault("class_names", [])
    write_raw(root, x, y, spec, details)
    manifest = json.loads((root / paths.RAW_MANIFEST).read_text())
    task = define_task(spec, problem, manifest.get("class_counts"), 1.5)
    write_json(root / paths.TASK, task.to_dict())
    split = holdout_split(y)
    write_split(split, root)
    test = np.array(split["test"])
    if problem == "regression":
        output = (y[test] + rng.normal(0, 3, len(test))).reshape(-1, 1)
    else:
        output = rng.dirichlet(np.ones(n_classes), len(test))
        output[np.arange(len(test)), y[test]] += 1.0  # mostly right
        output /= output.sum(axis=1, keepdims=True)
        if n_classes == 2:
            output = output[:, 1:]
    predictions = predictions_frame(task, test, y[test], output)
    write_csv(root / paths.TEST_PREDICTIONS, predictions, float_format="%.8g")
    scores = task_scores(task, y[test], output)
    metric = task.primary_metric
    write_json(root / paths.EVALUATE_METRICS, {
        **with_fake_intervals(scores), f"validation_{metric}_mean": scores[metric],
        f"validation_{metric}_std": 0.0, f"validation_{metric}_ci_low": scores[metric] - 0.02,
        f"validation_{metric}_ci_high": scores[metric] + 0.02, "seeds": 1,
        "overfit": with_fake_intervals(scores), "baseline": with_fake_intervals({k: v / 2 for k, v in scores.items()}),
        "gain_over_baseline": 0.4, "gain_over_baseline_ci_low": 0.3, "gain_over_baseline_ci_high": 0.5,
        "gain_over_baseline_p_value": 1e-12})
    write_json(root / paths.VALIDATION, {"success": True, "expectations": 3, "failed_expectations": 0,
                                         "reported_expectations": 1, "missing_values": 0, "cross_split_duplicates": 0,
                                         "max_class_proportion_gap": 0.01, "max_js_divergence": 0.02,
                                         "drifted_features": 0})
    write_json(root / paths.VALIDATION_RESULTS, [
        {"suite": "leakage", "expectation": "expect_no_duplicates()", "success": True, "severity": "critical"},
        {"suite": "drift", "expectation": f"expect_no_drift(column={HOSTILE})", "success": False,
         "severity": "warning"}])
    write_json(root / paths.BASELINE_METRICS, {"most_frequent": {"validation_mean": {metric: 0.33}},
                                               "stratified": {"validation_mean": {metric: 0.3}}})
    write_json(root / paths.OVERFIT_METRICS, {
        "folds": 1, "overfit": True, "training_failed": False, "overfit_folds": 1,
        "mean": {"epochs": 20.0, "best_val_loss_epoch": 6.0, "final_train_loss": 0.01, "final_val_loss": 0.4}})
    training = task.training_metric
    candidates = {name: {f"val_{metric}_mean": value, f"val_{metric}_std": 0.01, f"val_{metric}_ci_low": value - 0.05,
                         f"val_{metric}_ci_high": value + 0.05, "val_epochs_trained_mean": 12.0}
                  for name, value in (("small", 0.8), ("l2", 0.9))}
    write_json(root / paths.REGULARIZE_METRICS, {"folds": 1, "final_epochs": 10, "selected": candidates["l2"],
                                                 "candidates": candidates})
    epochs = np.arange(1, 6)
    histories = pd.concat([pd.DataFrame({"epoch": epochs, "loss": 1 / epochs, training: epochs / 6,
                                         "val_loss": 1.2 / epochs, f"val_{training}": epochs / 7, "candidate": name})
                           for name in candidates], ignore_index=True)
    write_csv(root / paths.CANDIDATE_HISTORIES, histories)
    write_json(root / paths.REGULARIZED_DIR / "candidate.json", {"name": "l2", "units": [8], "l1": 0.0, "l2": 0.01,
                                                                 "dropout": 0.0, "selected_by": f"val_{metric}_mean"})
    png = image_png(np.eye(4))
    for figure in (paths.LEARNING_CURVES_PNG, paths.PREDICTIONS_PNG):
        (root / figure).parent.mkdir(parents=True, exist_ok=True)
        (root / figure).write_bytes(png)
    if optional:
        write_json(root / paths.OPTIMIZE_METRICS, {
            "float32": {metric: scores[metric], "weights_bytes": 1000, "gzip_bytes": 900},
            "int8": {metric: scores[metric] - (0.2 if rejected else 0), "weights_bytes": 250, "gzip_bytes": 200,
                     "score_loss": 0.2 if rejected else 0.0, "score_loss_ci_low": 0.1 if rejected else -0.01,
                     "score_loss_ci_high": 0.3 if rejected else 0.01, "p_value": 0.001 if rejected else 1.0,
                     "status": "rejected" if rejected else "accepted",
                     "reason": "significantly worse (one-sided p=0.001)" if rejected else "not significantly worse"}})
        write_json(root / paths.EXPORT_METRICS, {"test_examples": len(test), "relative_output_difference":
                                                 {"keras": 0.0, "saved_model": 1e-7}, "saved_model_bytes": 12345})
        write_json(root / paths.EXPORT_DIR / "signature.json",
                   {"model_name": "uwf", "input": {"description": "one row"}, "output": {"kind": "probabilities"}})
        write_json(root / paths.study_metrics("dropout"), {"claim": "Dropout ends lower.", "held": False})
        write_json(root / paths.study_metrics("noise_channels"), {"claim": "Noise hurts.", "held": None})
        machine = {"cpu_model": "Test CPU", "cpu_isa": "avx2", "cores": 2, "python": "3.11.7",
                   "packages": {"keras": "3"}}
        write_json(root / paths.ENVIRONMENT, {"machines": {"m1": machine},
                                              "stages": {"evaluate": "m1", "study@dropout": "m1"}})
    return {"task": task, "predictions": predictions,
            "evaluation": json.loads((root / paths.EVALUATE_METRICS).read_text())}


def card(root: Path) -> str:
    return model_card.render(model_card.gather(root))


def expected_headline(root: Path) -> str:
    """The primary test score with its interval, as evaluate.json has it and the stages print it."""
    task = json.loads((root / paths.TASK).read_text())
    evaluation = json.loads((root / paths.EVALUATE_METRICS).read_text())
    key = f"test_{task['primary_metric']}"
    return (f"Test {model_card.metric_name(task['primary_metric'])} "
            f"{with_interval(evaluation[key], evaluation[key + '_ci_low'], evaluation[key + '_ci_high'])}")


def assert_the_card_shows_the_headline(root: Path) -> str:
    """For the end-to-end tests: the pipeline wrote a self-contained card with the primary test score and its
    interval; returns the page."""
    page = (root / paths.MODEL_CARD).read_text()
    assert f'id="headline">{expected_headline(root)}</div>' in page
    assert fetched_urls(page) == [] and "<script" not in page.lower()
    return page


def fetched_urls(page: str) -> list:
    """Every URL the page would make a browser fetch: src/href attributes, CSS url() and @import, scripts."""
    urls = re.findall(r'<(?:img|script|link|iframe|source|embed|object)\b[^>]*?(?:src|href|data)="([^"]*)"', page)
    urls += re.findall(r"url\(([^)]*)\)|@import", page)
    return [url for url in urls if not url.startswith("data:image/png;base64,")]


@pytest.mark.parametrize("kind, problem, n_classes", [
    ("images", "classification", 3), ("table", "classification", 2), ("table", "regression", 0),
    ("text", "classification", 2), ("sequences", "classification", 2)])
def test_every_kind_renders_one_self_contained_page_with_the_headline(tmp_path, kind, problem, n_classes):
    write_reports(tmp_path, kind, problem, n_classes)
    (tmp_path / paths.MODEL_CARD).write_text(card(tmp_path))
    page = assert_the_card_shows_the_headline(tmp_path)
    for section in ("The task", "The data", "How the model was chosen", "The test result", "what is served",
                    "Environment and lineage", "Limitations and what to expect"):
        assert section in page, section
    assert "The worst test examples" in page and page.count('<td class="number">') > 5
    if problem == "regression":
        assert "error by range of the actual value" in page and "off by" in page and "Confusion matrix" not in page
    else:
        assert "Confusion matrix" in page and "probability given to the actual class" in page


def test_user_data_is_escaped_everywhere(tmp_path):
    write_reports(tmp_path, "text", "classification", 2)
    page = card(tmp_path)
    assert HOSTILE not in page  # a class name, quoted texts, an expectation's column
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    write_reports(tmp_path / "table", "table", "classification", 2)
    page = card(tmp_path / "table")
    assert HOSTILE not in page and "&lt;img src=&#34;http://example.com/x.png&#34;&gt;" in page


def test_worst_examples_are_drawn_quoted_or_shown_as_rows(tmp_path):
    write_reports(tmp_path / "images", "images")
    assert card(tmp_path / "images").count('<img class="example" src="data:image/png;base64,') == \
        model_card.WORST_EXAMPLES
    write_reports(tmp_path / "text", "text", n_classes=2)
    quotes = re.findall(r"<blockquote>(.*?)</blockquote>", card(tmp_path / "text"))
    assert len(quotes) == model_card.WORST_EXAMPLES
    assert all(len(q.replace("&lt;", "<").replace("&gt;", ">").replace("&#34;", '"')) <=
               model_card.TEXT_CHARACTERS + 2 for q in quotes)
    write_reports(tmp_path / "table", "table", n_classes=2)
    page = card(tmp_path / "table")
    assert page.count("<th>radius</th><th>city</th>") == model_card.WORST_EXAMPLES
    write_reports(tmp_path / "imdb", "sequences", n_classes=2)
    assert card(tmp_path / "imdb").count("word indices: ") == model_card.WORST_EXAMPLES


def test_missing_optional_inputs_become_sentences(tmp_path):
    write_reports(tmp_path, optional=False)
    page = card(tmp_path)
    assert "No optimization result (reports/metrics/optimize.json is missing)" in page
    assert "No exported model" in page and "The chapter 5 studies have not run" in page
    assert "No machine was recorded" in page and "no dvc.lock" in page


def test_a_rejected_variant_shows_its_reason(tmp_path):
    write_reports(tmp_path, rejected=True)
    page = card(tmp_path)
    assert "Rejected, and not written: int8" in page and "rejected: significantly worse (one-sided p=0.001)" in page


def test_missing_required_inputs_stop_the_stage_with_one_line_and_no_card(tmp_path):
    write_reports(tmp_path)
    (tmp_path / paths.EVALUATE_METRICS).unlink()
    result = run_module("stages.model_card", tmp_path)
    assert result.returncode == 1 and result.stderr.startswith("error: reports/metrics/evaluate.json is missing")
    assert not (tmp_path / paths.MODEL_CARD).exists()


def test_the_stage_writes_the_card_and_the_same_bytes_twice(tmp_path):
    made = write_reports(tmp_path)
    result = run_module("stages.model_card", tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"-> {paths.MODEL_CARD}" in result.stdout
    first = (tmp_path / paths.MODEL_CARD).read_bytes()
    assert run_module("stages.model_card", tmp_path).returncode == 0
    assert (tmp_path / paths.MODEL_CARD).read_bytes() == first
    assert f"{made['evaluation']['test_accuracy']:.4g}".encode() in first


def test_the_worst_examples_are_the_most_confidently_wrong_then_the_least_sure():
    task = define_task("x", "classification", {0: 1, 1: 1, 2: 1}, 1.5)
    predictions = pd.DataFrame({"example": [10, 11, 12, 13], "actual": [0, 1, 2, 0], "predicted": [0, 2, 1, 1],
                                "output_0": [0.9, 0.1, 0.2, 0.25], "output_1": [0.05, 0.3, 0.7, 0.65],
                                "output_2": [0.05, 0.6, 0.1, 0.1]})
    worst = model_card.worst_examples(task, predictions, count=3)
    assert worst["example"].tolist() == [12, 13, 11]  # wrong ones, least probability to the actual class first
    binary = define_task("x", "classification", {0: 1, 1: 1}, 1.5)
    sigmoid = pd.DataFrame({"example": [1, 2, 3], "actual": [1, 0, 1], "predicted": [1, 1, 0],
                            "output": [0.9, 0.8, 0.4]})
    assert model_card.worst_examples(binary, sigmoid, count=3)["example"].tolist() == [2, 3, 1]
    regression = pd.DataFrame({"example": [1, 2, 3], "actual": [10.0, 20.0, 30.0], "predicted": [11.0, 10.0, 30.5]})
    assert model_card.worst_examples(define_task("x", "regression", None, 1.5), regression, count=2)["example"].tolist() == [2, 1]


def test_the_confusion_matrix_names_the_classes_that_err_most():
    task = define_task("x", "classification", {0: 1, 1: 1, 2: 1}, 1.5)
    predictions = pd.DataFrame({"actual": [0, 0, 1, 1, 1, 2], "predicted": [0, 0, 2, 2, 1, 2]})
    result = model_card.confusion(task, predictions, {0: "cat", 1: "dog", 2: "eel"})
    assert [row["name"] for row in result["per_class"]] == ["dog", "cat", "eel"]
    assert result["per_class"][0]["error_text"] == "66.7%"
    assert result["mistakes"] == [{"actual": "dog", "predicted": "eel", "count": 2}]
    assert [cell["count"] for cell in result["rows"][1]["cells"]] == [0, 1, 2]


def test_regression_errors_by_range_of_the_actual_value_largest_first():
    predictions = pd.DataFrame({"actual": np.arange(10.0), "predicted": np.arange(10.0) + np.r_[np.zeros(8), 5, 5]})
    rows = model_card.error_by_range(predictions, bins=5)
    assert rows[0]["mae"] == "5" and rows[0]["examples"] == 2 and sum(row["examples"] for row in rows) == 10


def test_the_metric_is_explained_for_each_kind_of_task():
    balanced = define_task("digits", "classification", {0: 50, 1: 52}, 1.5)
    imbalanced = define_task("table", "classification", {0: 500, 1: 20}, 1.5)
    regression = define_task("table", "regression", None, 1.5)
    assert "accuracy" in model_card.metric_reason(balanced) and "balanced" in model_card.metric_reason(balanced)
    assert "PR-AUC" in model_card.metric_reason(imbalanced) and "25 times" in model_card.metric_reason(imbalanced)
    assert "MAE" in model_card.metric_reason(regression)


def test_the_lineage_names_the_commit_the_raw_data_and_whether_the_workspace_matches_dvc_lock(tmp_path):
    import hashlib
    import subprocess

    import yaml

    write_reports(tmp_path)
    task_md5 = hashlib.md5((tmp_path / paths.TASK).read_bytes()).hexdigest()
    lock = {"schema": "2.0", "stages": {"evaluate": {"cmd": "python -m stages.evaluate",
                                                     "deps": [{"path": paths.TASK, "md5": task_md5}], "outs": []}}}
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@localhost"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "a run"]):
        subprocess.run(git + command, cwd=tmp_path, check=True)
    result = run_module("stages.model_card", tmp_path)
    assert result.returncode == 0, result.stderr
    page = (tmp_path / paths.MODEL_CARD).read_text()
    manifest = json.loads((tmp_path / paths.RAW_MANIFEST).read_text())
    assert "&#34;a run&#34;" in page and manifest["sha256"] in page
    assert "the workspace matches dvc.lock: 1 recorded inputs and outputs of evaluate hashed" in page
    (tmp_path / paths.TASK).write_text((tmp_path / paths.TASK).read_text() + "\n")  # the same task, other bytes
    assert run_module("stages.model_card", tmp_path).returncode == 0
    assert "1 file(s) differ from dvc.lock, so dvc repro would change some of what this card shows: reports/task.json" \
        in (tmp_path / paths.MODEL_CARD).read_text()


def test_the_limitations_follow_the_split_the_seeds_the_classes_and_the_columns():
    task = define_task("table", "classification", {0: 40, 1: 42}, 1.5)
    manifest = {"source": "your table", "excluded": {"PassengerId": "an identifier"}}
    test = {"examples": 20, "headline": {"metric": "accuracy", "text": "0.9 [0.8, 0.95]"},
            "confusion": {"per_class": [{"name": "yes", "examples": 4}, {"name": "no", "examples": 16}]}}
    shuffled = model_card.limitations(task, manifest, {"time_ordered": False}, {"seeds": 1},
                                      {"reported_expectations": 2}, test)
    text = " ".join(shuffled)
    assert "0.9 [0.8, 0.95] is the score on these 20 test examples" in text and "trained once" in text
    assert "drawn from the same collection (your table), at random" in text
    assert "fewer than 10 test examples (yes)" in text and "PassengerId" in text and "2 warning(s)" in text
    later = " ".join(model_card.limitations(task, manifest, {"time_ordered": True}, {"seeds": 3}, {}, test))
    assert "the latest 20 examples" in later and "trained 3 time(s)" in later


def test_the_split_protocol_is_told_with_its_sizes():
    split = {"protocol": "iterated_kfold", "shuffle": True, "time_ordered": False, "test": list(range(10)),
             "development": list(range(10, 50)),
             "folds": [{"train": list(range(10, 40)), "validation": list(range(40, 50))}] * 4}
    data = model_card.describe_data(define_task("x", "regression", None, 1.5), {}, split, {}, [], [])
    assert data["protocol"].startswith("10 examples held out for the test first (shuffled and stratified by class); "
                                       "the 40 others are the development data, split by iterated K-fold into 4 folds "
                                       "(fold 0: 30 for training, 10 for validation).")


def test_the_card_says_when_the_model_loses_to_the_last_known_value():
    from stages.lib.model_card import last_value_note

    task = define_task("x", "regression", None, 3.0)
    assert last_value_note(task, {"test_mae": 5.0}) is None  # not time-ordered
    loses = last_value_note(task, {"test_mae": 5.0, "last_value": {"test_mae": 4.0}})
    assert loses["loses"] and loses["text"].startswith("The model loses to the last known value on the test period")
    beats = last_value_note(task, {"test_mae": 3.0, "last_value": {"test_mae": 4.0}})
    assert not beats["loses"] and "beats" in beats["text"]


def test_the_card_names_the_sample_the_studies_ran_on(tmp_path):
    sample = {"examples": 50000, "sampled_from": 1234567, "validation_examples": 12346,
              "validation_sampled_from": 308642, "stratified": True, "key": "studies.table.max_examples"}
    sentence = ("The studies ran on a seeded, stratified sample of 50,000 of the 1,234,567 training examples, "
                "validated on 12,346 of the 308,642 validation examples (studies.table.max_examples).")
    write_reports(tmp_path, kind="table", problem="classification", n_classes=2)
    assert "The studies ran on" not in card(tmp_path)  # the studies saw every example
    for name in ("dropout", "noise_channels"):
        verdict = json.loads((tmp_path / paths.study_metrics(name)).read_text())
        write_json(tmp_path / paths.study_metrics(name), {**verdict, "sample": sample})
    page = card(tmp_path)
    assert page.count(f"<p>{sentence}</p>") == 1
    assert page.index("claims on this data (stage studies)") < page.index(sentence) < page.index("<td>dropout</td>")

    task = define_task("table", "regression", None, 1.5)
    baseline = {"mean": {"validation_mean": {task.primary_metric: 1.0}}}
    studies = {"dropout": {"claim": "c", "form": "regression", "held": True,
                           "sample": {**sample, "stratified": False}}}
    story = model_card.describe_story(task, baseline, {}, {}, {}, None, studies)
    assert story["studies_sample"].startswith("The studies ran on a seeded, random sample of 50,000 of the 1,234,567")
    unsampled = {"dropout": {"claim": "c", "form": "regression", "held": True}}
    assert model_card.describe_story(task, baseline, {}, {}, {}, None, unsampled)["studies_sample"] is None
