"""parallel_map: the jobs' results in order, from other processes, errors and UWF_JOBS as a user meets them."""
import os
import time
from pathlib import Path

import pytest

from stages.lib.artifacts import fold_numbers
from stages.lib.errors import PipelineError
from stages.lib.parallel import JOBS_VARIABLE, parallel_map, processes


def pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def test_two_processes_share_the_jobs_and_return_their_results_in_order(monkeypatch):
    monkeypatch.setenv(JOBS_VARIABLE, "2")
    assert parallel_map(pow, [(2, n) for n in range(6)]) == [1, 2, 4, 8, 16, 32]
    process_ids = parallel_map(pid_after, [(0.5,)] * 4)
    # This process takes jobs from the end, a spawned one from the start.
    assert process_ids[-1] == os.getpid() and process_ids[0] != os.getpid()


def test_one_process_runs_the_jobs_here(monkeypatch):
    monkeypatch.setenv(JOBS_VARIABLE, "1")
    assert parallel_map(os.getpid, [(), ()]) == [os.getpid()] * 2


def test_a_job_s_error_reaches_the_caller_with_its_message(monkeypatch, tmp_path):
    monkeypatch.setenv(JOBS_VARIABLE, "2")
    monkeypatch.chdir(tmp_path)  # no features here: fold_numbers refuses, in the spawned process
    with pytest.raises(PipelineError, match="holds no folds: run `dvc repro vectorize`"):
        parallel_map(fold_numbers, [(), ()])


def sleep_then_touch(path: str, seconds: float) -> None:
    time.sleep(seconds)
    Path(path).touch()


def test_after_a_failed_job_the_jobs_not_started_never_run(monkeypatch, tmp_path):
    """The last job fails at once, in this process: the spawned one finishes the job it took, the rest are
    dropped instead of run before the error."""
    monkeypatch.setenv(JOBS_VARIABLE, "2")
    markers = [tmp_path / f"job_{n}" for n in range(8)]
    with pytest.raises(FileNotFoundError):
        parallel_map(sleep_then_touch, [*[(str(m), 1) for m in markers], (str(tmp_path / "missing" / "job_8"), 0)])
    assert sum(m.exists() for m in markers) <= 1


def test_a_failed_job_elsewhere_stops_this_process_taking_more(monkeypatch, tmp_path):
    monkeypatch.setenv(JOBS_VARIABLE, "2")
    markers = [tmp_path / f"job_{n}" for n in range(1, 40)]
    with pytest.raises(FileNotFoundError):
        parallel_map(sleep_then_touch, [(str(tmp_path / "missing" / "job_0"), 0), *[(str(m), 0.5) for m in markers]])
    assert sum(m.exists() for m in markers) < len(markers) / 2


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5", "²"])
def test_a_bad_uwf_jobs_is_refused_in_one_line(monkeypatch, value):
    monkeypatch.setenv(JOBS_VARIABLE, value)
    with pytest.raises(PipelineError, match=rf"^UWF_JOBS='{value}' is not a number of processes: set it to 1 or more"):
        processes()


def test_unset_uwf_jobs_means_every_available_core(monkeypatch):
    monkeypatch.delenv(JOBS_VARIABLE, raising=False)
    assert processes() == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("stage", ["stages.regularize", "stages.studies"])
def test_a_stage_given_a_bad_uwf_jobs_stops_with_one_line_and_writes_nothing(project, monkeypatch, stage):
    from stages.lib import paths
    from stages.lib.io import write_json
    from tests.conftest import THREE_CLASSES, run_module

    write_json(project / paths.TASK, THREE_CLASSES.to_dict())
    before = sorted(project.rglob("*"))
    monkeypatch.setenv(JOBS_VARIABLE, "all")
    result = run_module(stage, project)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: UWF_JOBS='all' is not a number of processes: set it to 1 or more, or unset it to use every core")
    assert "Traceback" not in result.stderr
    assert sorted(project.rglob("*")) == before
