"""The lineage audit's logic on a small dvc.lock; tests/test_pipeline_end_to_end.py audits a real one."""
import hashlib
import json
import subprocess
import sys

import pytest
import yaml

from stages.lib import environment, lineage, paths
from stages.lib.errors import PipelineError
from tests.conftest import run_module, write_params


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


MODEL, CANDIDATE = b"weights", b'{"name": "dropout"}'
LISTING = [{"md5": md5(CANDIDATE), "relpath": "candidate.json"}, {"md5": md5(MODEL), "relpath": "model.keras"}]
LISTING_MD5 = "0123456789abcdef0123456789abcdef.dir"

LOCK = {
    "collect": {"cmd": "python -m stages.collect",
                "deps": [{"path": "data/examples/t.csv", "md5": md5(b"a,b\n1,2\n"), "size": 8},
                         {"path": "stages/collect.py", "md5": md5(b"code"), "size": 4}],
                "params": {"params.yaml": {"seed": 42, "collect": {"limit": None, "table": {"path": "t.csv"}}}},
                "outs": [{"path": "data/raw", "md5": "feedfeedfeedfeedfeedfeedfeedfeed.dir"}]},
    "define_task": {"cmd": "python -m stages.define_task",
                    "deps": [{"path": "data/raw/manifest.json", "md5": md5(b"{}")}],
                    "outs": [{"path": "reports/task.json", "md5": md5(b"task")}]},
    "train": {"cmd": "python -m stages.train",
              "deps": [{"path": "data/raw", "md5": "feedfeedfeedfeedfeedfeedfeedfeed.dir"},
                       {"path": "reports/task.json", "md5": md5(b"task")}],
              "params": {"params.yaml": {"seed": 42}},
              "outs": [{"path": "models/m", "md5": LISTING_MD5}]},
}


@pytest.fixture
def workspace(tmp_path):
    """The files LOCK records, as the pipeline left them, with DVC's listing of models/m in the cache."""
    (tmp_path / "models/m").mkdir(parents=True)
    (tmp_path / "models/m/model.keras").write_bytes(MODEL)
    (tmp_path / "models/m/candidate.json").write_bytes(CANDIDATE)
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports/task.json").write_bytes(b"task")
    listing = tmp_path / lineage.CACHE_DIR / LISTING_MD5[:2] / LISTING_MD5[2:]
    listing.parent.mkdir(parents=True)
    listing.write_text(json.dumps(LISTING))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"seed": 7, "collect": {"limit": None}}))
    return tmp_path


def test_a_target_is_a_stage_an_output_or_a_file_inside_an_output():
    assert lineage.resolve_target("train", LOCK) == "train"
    assert lineage.resolve_target("models/m", LOCK) == "train"
    assert lineage.resolve_target("models/m/", LOCK) == "train"
    assert lineage.resolve_target("models/m/model.keras", LOCK) == "train"
    assert lineage.resolve_target("reports/task.json", LOCK) == "define_task"
    with pytest.raises(PipelineError, match="'models/other' is neither a stage nor an output in dvc.lock"):
        lineage.resolve_target("models/other", LOCK)
    with pytest.raises(PipelineError, match="'models/mm' is neither"):  # a prefix of a name is not inside it
        lineage.resolve_target("models/mm", LOCK)


def test_the_chain_runs_from_the_raw_data_to_the_target():
    assert lineage.upstream("train", LOCK) == ["collect", "define_task", "train"]
    assert lineage.upstream("define_task", LOCK) == ["collect", "define_task"]
    assert lineage.upstream("collect", LOCK) == ["collect"]


def test_a_stage_record_has_its_command_hashes_origins_and_flat_params():
    record = lineage.stage_record("train", LOCK)
    assert record["cmd"] == "python -m stages.train"
    assert [(d["path"], d["produced_by"]) for d in record["deps"]] == [("data/raw", "collect"),
                                                                          ("reports/task.json", "define_task")]
    assert record["outs"] == [{"path": "models/m", "md5": LISTING_MD5, "size": None}]
    assert lineage.stage_record("collect", LOCK)["params"] == {"seed": 42, "collect.limit": None,
                                                               "collect.table.path": "t.csv"}


def test_an_untouched_workspace_has_no_problems(workspace):
    assert lineage.verification_problems({}, LOCK, ["collect", "define_task", "train"], workspace) == []


def test_a_file_changed_inside_an_output_folder_is_named_with_both_hashes(workspace):
    (workspace / "models/m/model.keras").write_bytes(b"tampered")
    (workspace / "models/m/candidate.json").unlink()
    (workspace / "models/m/notes.txt").write_bytes(b"extra")
    status = {"train": [{"changed outs": {"models/m": "modified"}}]}
    problems = lineage.verification_problems(status, LOCK, ["collect", "define_task", "train"], workspace)
    assert [(p["path"], p["status"], p["role"], p["stage"]) for p in problems] == [
        ("models/m/candidate.json", "deleted", "output", "train"),
        ("models/m/model.keras", "modified", "output", "train"),
        ("models/m/notes.txt", "added", "output", "train")]
    assert (problems[1]["recorded"], problems[1]["current"]) == (md5(MODEL), md5(b"tampered"))


def test_without_the_cache_listing_the_folder_itself_is_named(workspace):
    for listing in (workspace / lineage.CACHE_DIR).rglob("*.dir"):
        listing.unlink()
    status = {"train": [{"changed outs": {"models/m": "modified"}}]}
    problems = lineage.verification_problems(status, LOCK, ["train"], workspace)
    assert [(p["path"], p["status"], p["recorded"]) for p in problems] == [("models/m", "modified", LISTING_MD5)]


def test_the_workspace_is_checked_against_the_lock_by_hashing_without_dvc(workspace):
    """What the model card runs inside `dvc repro`, where `dvc status` cannot run."""
    state = lineage.workspace_differences(["define_task", "train"], LOCK, workspace)
    assert state == {"checked": ["data/raw/manifest.json", "reports/task.json", "models/m"],
                     "differ": ["data/raw/manifest.json"], "unchecked": ["data/raw"]}
    (workspace / "data/raw").mkdir(parents=True)
    (workspace / "data/raw/manifest.json").write_bytes(b"{}")
    assert lineage.workspace_differences(["define_task", "train"], LOCK, workspace)["differ"] == []
    (workspace / "models/m/model.keras").write_bytes(b"tampered")
    (workspace / "reports/task.json").write_bytes(b"another task")
    assert lineage.workspace_differences(["define_task", "train"], LOCK, workspace)["differ"] == [
        "reports/task.json", "models/m/model.keras"]


def test_changed_params_code_and_commands_are_stale_inputs_with_recorded_and_current_values(workspace):
    (workspace / "stages").mkdir()
    (workspace / "stages/collect.py").write_bytes(b"new code")
    status = {"collect": [{"changed deps": {"params.yaml": {"seed": "modified"}, "stages/collect.py": "modified"}}],
              "train": ["changed command"]}
    problems = lineage.verification_problems(status, LOCK, ["collect", "define_task", "train"], workspace)
    by_path = {p["path"]: p for p in problems}
    assert (by_path["params.yaml:seed"]["recorded"], by_path["params.yaml:seed"]["current"]) == (42, 7)
    assert by_path["stages/collect.py"]["current"] == md5(b"new code")
    assert by_path["stages/collect.py"]["recorded"] == md5(b"code")
    assert by_path[None]["role"] == "command" and by_path[None]["stage"] == "train"


def test_a_tampered_output_is_reported_once_not_again_as_the_next_stage_s_input(workspace):
    (workspace / "reports/task.json").write_bytes(b"edited by hand")
    status = {"define_task": [{"changed outs": {"reports/task.json": "modified"}}],
              "train": [{"changed deps": {"reports/task.json": "modified"}}]}
    problems = lineage.verification_problems(status, LOCK, ["collect", "define_task", "train"], workspace)
    assert [(p["path"], p["role"]) for p in problems] == [("reports/task.json", "output")]


def test_the_human_report_shows_the_chain_and_separates_tampering_from_staleness(workspace):
    result = {"target": "models/m", "stage": "train", "verified": True,
              "git": {"head": {"short": "abc1234", "subject": "train", "date": "2026-11-27"},
                      "lock_commit": "abc1234" + "0" * 33, "uncommitted": []},
              "raw_data": {"dataset": "table", "kind": "table", "problem": "classification", "examples": 1,
                           "source": "your table", "sha256": "c" * 64, "file": "t.csv", "file_sha256": "d" * 64},
              "stages": [lineage.stage_record(name, LOCK) for name in ("collect", "define_task", "train")],
              "problems": []}
    result["git"]["pipeline_uncommitted"], result["allow_uncommitted"] = [], False
    text = lineage.render(result)
    assert "1. collect: python -m stages.collect" in text and "3. train: python -m stages.train" in text
    assert f"file: t.csv sha256 {'d' * 64}" in text and "seed=42" in text
    assert "(from define_task)" in text and text.endswith("matches dvc.lock.")
    result["git"]["pipeline_uncommitted"] = ["dvc.lock", "params.yaml"]
    assert lineage.render(result).endswith("NOT verified: dvc.lock, params.yaml differ from commit abc1234, so it does "
                                           "not record what made models/m: commit them (`git add dvc.lock params.yaml "
                                           "&& git commit`), or pass --allow-uncommitted to audit the workspace as it is.")
    result["allow_uncommitted"] = True
    assert lineage.render(result).endswith("Not committed (--allow-uncommitted): dvc.lock, params.yaml.")
    (workspace / "models/m/model.keras").write_bytes(b"tampered")
    status = {"train": [{"changed outs": {"models/m": "modified"}}],
              "collect": [{"changed deps": {"params.yaml": {"seed": "modified"}}}]}
    result["problems"] = lineage.verification_problems(status, LOCK, ["collect", "train"], workspace)
    text = lineage.render(result)
    assert "NOT verified: 2 file(s) or param(s) differ" in text
    tampered, stale = text.split("Outputs changed outside the pipeline:")[1].split("Inputs changed since")
    assert "models/m/model.keras" in tampered and "params.yaml:seed" in stale and "ran with 42, now 7" in stale


def cli(folder, *args):
    return run_module("stages.audit", folder, *args)


def test_the_command_fails_with_one_line_outside_a_repository_without_a_lock_or_for_an_unknown_artifact(tmp_path):
    result = cli(tmp_path)
    assert result.returncode == 1 and result.stderr.strip().count("\n") == 0
    assert "not inside a git repository" in result.stderr
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    result = cli(tmp_path)
    assert result.returncode == 1 and "dvc.lock is missing: run `dvc repro` first" in result.stderr
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": LOCK}))
    result = cli(tmp_path, "models/nope")
    assert result.returncode == 1 and "'models/nope' is neither a stage nor an output" in result.stderr
    assert result.stdout == ""


def git(folder, *args):
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=folder,
                          check=True, capture_output=True, text=True).stdout


@pytest.fixture
def committed_project(tmp_path, default_params):
    """A git and DVC repository with one stage, run and committed: dvc.lock, dvc.yaml and params.yaml as HEAD has them."""
    git(tmp_path, "init", "-q")
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=tmp_path, check=True)
    write_params(tmp_path, default_params)
    (tmp_path / "dvc.yaml").write_text("stages:\n  train:\n    cmd: echo weights > model.txt\n    params: [seed]\n"
                                       "    outs: [model.txt]\n")
    subprocess.run([sys.executable, "-m", "dvc", "repro", "-q"], cwd=tmp_path, check=True)
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "trained")
    return tmp_path


def test_the_audit_fails_when_the_pipeline_files_differ_from_the_commit_it_names(committed_project):
    head = git(committed_project, "rev-parse", "--short=7", "HEAD").strip()
    result = cli(committed_project, "model.txt")
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("Verified: every dependency and output above matches dvc.lock.\n")
    with open(committed_project / "dvc.lock", "a") as lock:
        lock.write("# edited by hand, not committed\n")  # dvc status still passes: only git sees it
    result = cli(committed_project, "model.txt")
    assert result.returncode == 1 and "NOT verified: dvc.lock differs from commit" in result.stdout
    assert result.stderr == (f"error: dvc.lock differs from commit {head}, so it does not record what made model.txt: "
                             "commit it (`git add dvc.lock && git commit`), or pass --allow-uncommitted to audit the "
                             "workspace as it is\n")
    with open(committed_project / "dvc.yaml", "a") as definition:
        definition.write("# a comment\n")
    result = cli(committed_project, "model.txt", "--allow-uncommitted", "--json")
    assert result.returncode == 0, result.stderr
    audit = json.loads(result.stdout)
    assert audit["verified"] and audit["git"]["pipeline_uncommitted"] == ["dvc.lock", "dvc.yaml"]
    git(committed_project, "commit", "-qam", "edited")
    assert cli(committed_project, "model.txt").returncode == 0
    with open(committed_project / "params.yaml", "a") as params:
        params.write("tarin: 1\n")  # no stage tracks it, so dvc status stays clean; the audit validates the file
    result = cli(committed_project, "model.txt", "--allow-uncommitted")
    assert (result.returncode, result.stderr) == (1, "error: params.yaml: unknown key 'tarin'; fix it and rerun\n")


HERE = {"cpu_model": "Here CPU", "cpu_isa": "avx512_core", "onednn": True, "cores": 2, "os": "Linux-6",
        "python": "3.11.7", "packages": {"tensorflow": "2.21.0", "keras": "3.15.1", "numpy": "2.4.6"},
        "variables": {"OMP_NUM_THREADS": None}}
ELSEWHERE = {**HERE, "cpu_model": "Elsewhere CPU", "cpu_isa": "avx2", "packages": {**HERE["packages"], "numpy": "1.0"}}


def test_the_audit_names_the_machines_that_ran_the_lineage_and_whether_this_one_differs(workspace, monkeypatch):
    record = workspace / paths.ENVIRONMENT
    environment.record("collect", record, HERE)
    environment.record("train", record, ELSEWHERE)
    environment.record("unrelated", record, {**HERE, "cores": 64})
    monkeypatch.setattr(environment, "describe", lambda: HERE)
    machines = lineage.producing_machines(["collect", "define_task", "train"], workspace)
    here, elsewhere = environment.machine_id(HERE), environment.machine_id(ELSEWHERE)
    assert machines["stages"] == {"collect": here, "train": elsewhere} and list(machines["machines"]) == [here, elsewhere]
    assert machines["current"] == HERE and machines["differs"] == ["cpu_model", "cpu_isa", "packages.numpy"]
    assert lineage.render_environment(machines) == [
        "environment: collect produced on Here CPU (avx512_core, 2 cores, Linux-6, TF 2.21.0, Keras 3.15.1, "
        "NumPy 2.4.6); this machine is the same",
        "environment: train produced on Elsewhere CPU (avx2, 2 cores, Linux-6, TF 2.21.0, Keras 3.15.1, NumPy 1.0); "
        "this machine differs in cpu_model, cpu_isa, packages.numpy: float results may differ within the metrics' "
        "intervals"]
    monkeypatch.setattr(environment, "describe", lambda: ELSEWHERE)
    assert lineage.producing_machines(["train"], workspace)["differs"] == []
    assert lineage.render_environment(lineage.producing_machines(["define_task"], workspace)) == [
        "environment: no stage of this lineage recorded its machine in reports/environment.json"]


def test_the_human_report_shows_the_environment_before_the_verification(workspace, monkeypatch):
    monkeypatch.setattr(environment, "describe", lambda: HERE)
    environment.record("train", workspace / paths.ENVIRONMENT, ELSEWHERE)
    result = {"target": "models/m", "stage": "train", "verified": True, "allow_uncommitted": False,
              "git": {"head": None, "lock_commit": None, "uncommitted": [], "pipeline_uncommitted": []},
              "raw_data": None, "stages": [lineage.stage_record("train", LOCK)], "problems": [],
              "environment": lineage.producing_machines(["train"], workspace)}
    text = lineage.render(result)
    assert "\n\nenvironment: train produced on Elsewhere CPU (avx2, " in text
    assert text.endswith("this machine differs in cpu_model, cpu_isa, packages.numpy: float results may differ within "
                         "the metrics' intervals\n\nVerified: every dependency and output above matches dvc.lock.")


def test_the_command_reports_the_environment_in_text_and_json_without_changing_its_status(committed_project):
    record = committed_project / paths.ENVIRONMENT
    environment.record("train", record)  # this machine, as the subprocess sees it
    result = cli(committed_project, "model.txt")
    assert result.returncode == 0, result.stderr
    assert "environment: train produced on " in result.stdout and "; this machine is the same\n" in result.stdout
    environment.record("train", record, {**environment.describe(), "cpu_model": "Elsewhere CPU"})
    result = cli(committed_project, "model.txt", "--json")
    assert result.returncode == 0, result.stderr
    audit = json.loads(result.stdout)["environment"]
    assert audit["differs"] == ["cpu_model"] and audit["current"] == environment.describe()
    assert list(audit["stages"]) == ["train"]
    assert audit["machines"][audit["stages"]["train"]]["cpu_model"] == "Elsewhere CPU"
    result = cli(committed_project, "model.txt")
    assert result.returncode == 0 and "this machine differs in cpu_model: float results may differ" in result.stdout
