"""The real pipeline, run with `dvc repro` in a fresh git repository, as a user would."""
import hashlib
import http.client
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from stages.lib import paths, pr_report, serving
from stages.lib.export import as_instances, raw_batch
from stages.lib.artifacts import StoredRows
from stages.lib.kinds import read_raw
from stages.lib.models import load_model
from stages.lib.splitting import read_split
from tests.conftest import built_once, copied_repo, copy_pipeline
from tests.test_model_card import assert_the_card_shows_the_headline

pytestmark = pytest.mark.pipeline

METRICS = [paths.VALIDATION, paths.BASELINE_METRICS, paths.OVERFIT_METRICS, paths.REGULARIZE_METRICS,
           paths.EVALUATE_METRICS]


def environment() -> dict:
    env = dict(os.environ)
    # Stage commands run `python`: it must be this environment's interpreter.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    for role in ("AUTHOR", "COMMITTER"):
        env[f"GIT_{role}_NAME"], env[f"GIT_{role}_EMAIL"] = "test", "test@localhost"
    return env


def run(repo: Path, *command: str, **env: str) -> str:
    result = subprocess.run(command, cwd=repo, env={**environment(), **env}, capture_output=True, text=True)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def dvc(repo: Path, *args: str, **env: str) -> str:
    return run(repo, sys.executable, "-m", "dvc", *args, **env)


def first_run(repo: Path) -> None:
    """A fresh clone-like repository after one full `dvc repro evaluate` on the default params, committed."""
    copy_pipeline(repo)
    run(repo, "git", "init", "-q")
    dvc(repo, "init", "-q")
    dvc(repo, "config", "core.analytics", "false")
    dvc(repo, "repro", "evaluate")  # the workflow; the studies have a test of their own
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-qm", "first run")


@pytest.fixture
def repo(tmp_path_factory, tmp_path):
    """Each test's own copy of the first run (made once per test run): a test may change it freely."""
    return copied_repo(built_once(tmp_path_factory, "first_run", first_run), tmp_path / "repo")


def read(repo, path):
    return json.loads((repo / path).read_text())


def test_default_pipeline_meets_the_targets(repo):
    evaluation = read(repo, paths.EVALUATE_METRICS)
    assert evaluation["test_accuracy"] >= 0.97
    assert evaluation["skill_over_baseline"] >= 0.9
    assert read(repo, paths.VALIDATION)["success"]
    overfit = read(repo, paths.OVERFIT_METRICS)
    assert overfit["mean"]["final_train_accuracy"] > 0.99 and not overfit["training_failed"] and overfit["overfit"]
    task = read(repo, paths.TASK)
    assert (task["last_layer_activation"], task["primary_metric"]) == ("softmax", "accuracy")
    for artifact in (paths.LEARNING_CURVES_PNG, paths.PREDICTIONS_PNG, f"{paths.DATA_DOCS}/index.html",
                     paths.OVERFIT_MODEL, f"{paths.REGULARIZED_DIR}/model.keras", paths.PREDICTIONS):
        assert (repo / artifact).stat().st_size > 0, artifact
    assert json.loads(dvc(repo, "plots", "show", "--json"))
    for metric in ("accuracy", "f1", "roc_auc", "log_loss"):
        assert evaluation[f"test_{metric}_ci_low"] <= evaluation[f"test_{metric}"] <= evaluation[f"test_{metric}_ci_high"]
    assert evaluation["validation_accuracy_ci_low"] <= evaluation["validation_accuracy_mean"]
    predictions = (repo / paths.TEST_PREDICTIONS).read_text().splitlines()
    assert predictions[0].startswith("example,actual,predicted,score,output_0,") and len(predictions) == 361
    recorded = read(repo, paths.ENVIRONMENT)
    assert {"baseline", "overfit", "regularize", "evaluate"} <= set(recorded["stages"])
    assert len(recorded["machines"]) == 1


def test_nothing_reruns_after_a_full_run(repo):
    output = dvc(repo, "repro", "evaluate")
    assert "Running stage" not in output
    assert "up to date" in dvc(repo, "status", "evaluate")


def test_forced_rerun_gives_byte_identical_metrics_and_models(repo):
    """dvc.lock holds the hash of every output (models, features, Data Docs): it must not change either. The first
    run trained in one process (the suite's UWF_JOBS=1), this one trains regularize's candidates side by side."""
    kept = [*METRICS, "dvc.lock", paths.TEST_PREDICTIONS, paths.ENVIRONMENT]
    before = {path: (repo / path).read_bytes() for path in kept}
    output = dvc(repo, "repro", "-f", "evaluate", UWF_JOBS="2")
    assert "Running stage 'collect'" in output and "Running stage 'regularize'" in output
    assert {path: (repo / path).read_bytes() for path in kept} == before
    assert "models/regularized" in before["dvc.lock"].decode()


def test_param_change_shows_in_metrics_and_params_diff(repo):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["baseline"]["classification"] = ["most_frequent", "uniform"]
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    output = dvc(repo, "repro", "evaluate")
    assert "Running stage 'baseline'" in output and "Running stage 'overfit'" not in output
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-qm", "uniform baseline")
    params_diff = json.loads(dvc(repo, "params", "diff", "HEAD~1", "HEAD", "--json"))
    assert params_diff["params.yaml"]["baseline.classification"] == {
        "old": "['most_frequent', 'stratified']", "new": "['most_frequent', 'uniform']"}
    metrics_diff = json.loads(dvc(repo, "metrics", "diff", "HEAD~1", "HEAD", "--json"))
    baseline = metrics_diff[paths.BASELINE_METRICS]
    key = "uniform.validation_mean.accuracy"
    assert baseline[key]["old"] is None
    assert baseline[key]["new"] == read(repo, paths.BASELINE_METRICS)["uniform"]["validation_mean"]["accuracy"]
    assert baseline["stratified.validation_mean.accuracy"]["new"] is None


def commit_params(repo: Path, message: str, **changes) -> None:
    """Change params (section.key=value), `dvc repro evaluate`, commit everything."""
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for name, value in changes.items():
        section, key = name.split("__")
        params[section][key] = value
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    dvc(repo, "repro", "evaluate")
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-qm", message)


def test_the_pull_request_report_shows_changed_params_metrics_and_plots(repo, tmp_path):
    base = run(repo, "git", "rev-parse", "HEAD").strip()
    old_epochs = yaml.safe_load((repo / "params.yaml").read_text())["overfit"]["epochs"]
    old = json.loads(run(repo, "git", "show", f"{base}:{paths.OVERFIT_METRICS}"))["mean"]["final_val_loss"]
    # 3 epochs: shorter than any run overfit.stop_once_overfit (3 epochs above the lowest) can stop
    commit_params(repo, "a shorter overfit run", overfit__epochs=3)
    new = read(repo, paths.OVERFIT_METRICS)["mean"]["final_val_loss"]
    assert new != old
    for rev, output in ((["--rev", "HEAD"], tmp_path / "commits"), ([], tmp_path / "workspace")):
        printed = run(repo, sys.executable, "-m", "stages.report", "--base", base, *rev, "--output", str(output))
        assert f"-> {output}/report.md" in printed
        report = (output / "report.md").read_text()
        assert f"| {base[:7]} | {'HEAD' if rev else 'workspace'} |" in report
        assert f"| params.yaml | overfit.epochs | {old_epochs} | 3 |" in report
        assert f"| mean.final_val_loss | {pr_report.fmt(old)} | {pr_report.fmt(new)} |" in report
        assert "### reports/plots/overfit_history.csv" in report and "### learning_curves_loss" in report
        assert "### reports/plots/regularized_history.csv" not in report  # regularize did not re-run
        assert (output / "plots" / "learning_curves_loss.png").read_bytes().startswith(b"\x89PNG")
        assert "## Verdicts on the test scores" in report and "| test_accuracy |" in report
        assert "paired bootstrap over the same 360 test examples" in report
    # the regularized model did not change: a gate on its accuracy lets this through; a typo stops it
    run(repo, sys.executable, "-m", "stages.report", "--base", base, "--output", str(tmp_path / "gate"),
        "--fail-on-worse", "accuracy")
    typo = subprocess.run([sys.executable, "-m", "stages.report", "--base", base, "--output", str(tmp_path / "typo"),
                           "--fail-on-worse", "acuracy"], cwd=repo, env=environment(), capture_output=True, text=True)
    assert typo.returncode == 1 and "--fail-on-worse acuracy: the compared revision has no such test score" in typo.stderr


def audit(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stages.audit", *args], cwd=repo, env=environment(),
                          capture_output=True, text=True)


def test_the_audit_traces_the_model_to_the_raw_data_and_names_a_tampered_file(repo):
    result = audit(repo, paths.REGULARIZED_DIR, "--json")
    assert result.returncode == 0, result.stderr
    lineage = json.loads(result.stdout)
    assert [s["stage"] for s in lineage["stages"]] == ["collect", "split", "validate", "vectorize", "define_task",
                                                       "regularize"]
    assert lineage["verified"] and lineage["raw_data"]["sha256"] == read(repo, paths.RAW_MANIFEST)["sha256"]
    assert lineage["git"]["head"]["commit"] == run(repo, "git", "rev-parse", "HEAD").strip()
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    assert lineage["stages"][-1]["outs"][0]["md5"] == lock["regularize"]["outs"][0]["md5"]
    assert lineage["stages"][0]["params"]["task.dataset"] == "digits"

    model = repo / paths.REGULARIZED_DIR / "model.keras"
    original = model.read_bytes()
    model.write_bytes(original + b"tampered")
    result = audit(repo, paths.REGULARIZED_DIR, "--json")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert [(p["path"], p["status"], p["role"], p["current"]) for p in json.loads(result.stdout)["problems"]] == [
        (f"{paths.REGULARIZED_DIR}/model.keras", "modified", "output", hashlib.md5(model.read_bytes()).hexdigest())]
    assert f"modified {paths.REGULARIZED_DIR}/model.keras" in audit(repo).stdout
    dvc(repo, "checkout", "--force", "regularize")
    assert model.read_bytes() == original and audit(repo).returncode == 0


def test_an_experiment_sweep_runs_from_the_queue_and_shows_in_exp_show(repo):
    params_before = (repo / "params.yaml").read_bytes()
    dvc(repo, "exp", "run", "evaluate", "--queue", "-S", "overfit.epochs=2,3")  # the studies are not needed
    dvc(repo, "exp", "run", "--run-all")
    shown = json.loads(dvc(repo, "exp", "show", "--json"))
    runs = [rev["data"] for entry in shown for experiment in entry.get("experiments") or []
            for rev in experiment["revs"]]
    assert sorted(run["params"]["params.yaml"]["data"]["overfit"]["epochs"] for run in runs) == [2, 3]
    assert all(run["metrics"][paths.OVERFIT_METRICS]["data"]["mean"]["final_val_loss"] > 0 for run in runs)
    assert (repo / "params.yaml").read_bytes() == params_before  # queued experiments leave the workspace alone


def test_the_exported_model_is_served_and_answers_like_the_trained_model(repo):
    output = dvc(repo, "repro", "export")
    assert "Running stage 'export'" in output and "Running stage 'regularize'" not in output
    gaps = read(repo, paths.EXPORT_METRICS)["max_output_difference"]
    assert max(gaps.values()) <= 1e-4 and read(repo, paths.EXPORT_METRICS)["test_examples"] == 360
    signature = read(repo, f"{paths.EXPORT_DIR}/signature.json")
    port = serving.free_port()
    server = subprocess.Popen([sys.executable, "-m", "stages.serve", "--port", str(port)], cwd=repo,
                              env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert serving.wait_until_serving(port, signature["model_name"], timeout=120)
        x, _ = read_raw(repo / paths.RAW_DIR)
        test = read_split(repo)["test"][:5]
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("POST", f"/v1/models/{signature['model_name']}:predict",
                           body=json.dumps({"instances": x[test].tolist()}))
        response = connection.getresponse()
        predictions = json.loads(response.read())["predictions"]
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert response.status == 200
    features = StoredRows(repo / paths.features_file("test"))[:5]
    expected = load_model(str(repo / paths.REGULARIZED_DIR / "model.keras")).predict(features, verbose=0)
    assert np.allclose(predictions, expected, atol=1e-5)


def test_a_fresh_clone_pulls_every_artifact_from_a_shared_remote(repo, tmp_path):
    remote, clone = tmp_path / "shared-cache", tmp_path / "elsewhere"
    dvc(repo, "remote", "add", "--default", "shared", str(remote))
    dvc(repo, "push")
    run(repo, "git", "add", ".dvc/config")
    run(repo, "git", "commit", "-qm", "a shared DVC remote")
    run(tmp_path, "git", "clone", "-q", str(repo), str(clone))
    assert not (clone / paths.REGULARIZED_DIR).exists()
    dvc(clone, "pull", "--with-deps", "evaluate")  # export and optimize never ran here: nothing of theirs to pull
    assert "up to date" in dvc(clone, "status", "evaluate")  # nothing to re-run: every artifact came from the remote
    for artifact in (paths.RAW_DATA, paths.features_file("test"), f"{paths.REGULARIZED_DIR}/model.keras",
                     paths.OVERFIT_MODEL, *METRICS):
        assert (clone / artifact).read_bytes() == (repo / artifact).read_bytes(), artifact
    assert json.loads(dvc(clone, "metrics", "diff", "--json")) == {}


def test_studies_run_as_stages_and_are_summarized(repo):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["studies"]["digits"]["epochs"] = 4  # the default sizes take minutes; the plumbing is the same
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    output = dvc(repo, "repro", "model_card")  # the studies, export and optimize, then the card of them all
    assert "Running stage 'evaluate'" not in output and "Running stage 'studies'" in output
    summary = (repo / paths.STUDIES_SUMMARY).read_text()
    rows = [line for line in summary.splitlines() if line.startswith("| ") and not line.startswith("| study")]
    assert len(rows) == 8 and all(row.endswith(("| held |", "| **did not hold** |")) for row in rows)
    for name in ("noise_channels", "linear_capacity"):
        assert isinstance(read(repo, paths.study_metrics(name))["held"], bool)
        assert (repo / paths.study_png(name)).stat().st_size > 0
    shown = json.loads(dvc(repo, "metrics", "show", "--json"))
    assert any(paths.study_metrics("capacity") in str(entry) for entry in shown.values())
    # The default task's model card: images drawn, the studies' verdicts, and nothing left to re-run.
    page = assert_the_card_shows_the_headline(repo)
    assert '<img class="example" src="data:image/png;base64,' in page and "<td>linear_capacity</td>" in page
    assert "Running stage" not in dvc(repo, "repro", "model_card")


def switch_task(repo: Path, dataset: str) -> None:
    """Params for another task, with the training sizes shrunk to keep the test quick."""
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["task"]["dataset"] = dataset
    params["split"].update(repeats=1, folds=2)
    params["overfit"].update(epochs=5)
    params["regularize"].update(epochs=8, candidates=params["regularize"]["candidates"][:2])
    params["studies"][dataset]["epochs"] = 3
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def test_the_readme_s_example_table_runs_every_stage_by_changing_params_only(repo):
    """`dvc exp run -S task.dataset=table` as the README shows it: every stage, the studies included.
    (Texts, and messier tables, run every stage in tests/test_corpus_end_to_end.py.)"""
    switch_task(repo, "table")
    output = dvc(repo, "repro")
    assert "Running stage 'collect'" in output and "Running stage 'studies'" in output
    # Under 1,000 rows, auto picks iterated K-fold (here 2 folds x 1 repeat to keep the test quick).
    assert read_split(repo)["protocol"] == "iterated_kfold" and read(repo, paths.REGULARIZE_METRICS)["folds"] == 2
    assert read(repo, paths.EVALUATE_METRICS)["test_accuracy"] >= 0.9
    assert read(repo, paths.VALIDATION)["success"]
    assert read(repo, paths.study_metrics("dropout"))["held"] in (True, False)
    assert "<th>mean radius</th>" in assert_the_card_shows_the_headline(repo)  # a worst test row, shown
    # Raw rows in, predictions out: the exported table model, then the monitor on them.
    signature = read(repo, f"{paths.EXPORT_DIR}/signature.json")["input"]
    assert max(read(repo, paths.EXPORT_METRICS)["max_output_difference"].values()) <= 1e-4
    x, _ = read_raw(repo / paths.RAW_DIR)
    rows = as_instances(raw_batch(x.iloc[read_split(repo)["test"]], signature), signature)
    (repo / "rows.json").write_text(json.dumps({"instances": rows}))
    assert "no drift" in run(repo, sys.executable, "-m", "stages.monitor", "rows.json")


def test_an_unknown_params_key_stops_dvc_repro_even_when_no_stage_reads_it(repo):
    with (repo / "params.yaml").open("a") as params:
        params.write("\nsplit_protocol: kfold\n")
    result = subprocess.run([sys.executable, "-m", "dvc", "repro"], cwd=repo, env=environment(),
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "error: params.yaml: unknown key 'split_protocol'; fix it and rerun" in result.stderr


def test_the_lineage_shows_the_new_hash_when_the_raw_data_changes(repo):
    switch_task(repo, "table")  # params.yaml and dvc.lock stay uncommitted here: hence --allow-uncommitted
    table = repo / "data/examples/breast_cancer.csv"
    original = table.read_bytes()
    dvc(repo, "repro", "define_task")
    strict = audit(repo, paths.TASK)
    assert strict.returncode == 1 and "--allow-uncommitted" in strict.stderr and "params.yaml" in strict.stderr
    first = json.loads(audit(repo, paths.TASK, "--json", "--allow-uncommitted").stdout)
    assert first["verified"] and [s["stage"] for s in first["stages"]] == ["collect", "define_task"]
    assert first["raw_data"]["file_sha256"] == hashlib.sha256(original).hexdigest()
    changed = b"".join(original.splitlines(keepends=True)[:-40])  # 40 fewer rows
    table.write_bytes(changed)
    result = audit(repo, paths.TASK, "--json", "--allow-uncommitted")
    assert result.returncode == 1
    assert [(p["path"], p["role"], p["current"]) for p in json.loads(result.stdout)["problems"]] == [
        ("data/examples/breast_cancer.csv", "dependency", hashlib.md5(changed).hexdigest())]
    dvc(repo, "repro", "define_task")
    result = audit(repo, paths.TASK, "--json", "--allow-uncommitted")
    assert result.returncode == 0, result.stderr
    after = json.loads(result.stdout)
    assert after["raw_data"]["file_sha256"] == hashlib.sha256(changed).hexdigest()
    assert after["raw_data"]["sha256"] != first["raw_data"]["sha256"]
    assert after["raw_data"]["examples"] == first["raw_data"]["examples"] - 40
    recorded = {d["path"]: d["md5"] for d in after["stages"][0]["deps"]}
    assert recorded["data/examples/breast_cancer.csv"] == hashlib.md5(changed).hexdigest()
