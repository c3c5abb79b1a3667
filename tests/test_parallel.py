"""parallel_map: the jobs' results in order, from other processes, errors and UWF_JOBS as a user meets them."""
import os

import pytest

from stages.lib.artifacts import fold_numbers
from stages.lib.errors import PipelineError
from stages.lib.parallel import JOBS_VARIABLE, parallel_map, processes


def test_two_processes_run_the_jobs_elsewhere_and_return_their_results_in_order(monkeypatch):
    monkeypatch.setenv(JOBS_VARIABLE, "2")
    assert parallel_map(pow, [(2, n) for n in range(6)]) == [1, 2, 4, 8, 16, 32]
    process_ids = parallel_map(os.getpid, [(), (), ()])
    assert len(process_ids) == 3 and os.getpid() not in process_ids


def test_one_process_runs_the_jobs_here(monkeypatch):
    monkeypatch.setenv(JOBS_VARIABLE, "1")
    assert parallel_map(os.getpid, [(), ()]) == [os.getpid()] * 2


def test_a_job_s_error_reaches_the_caller_with_its_message(monkeypatch, tmp_path):
    monkeypatch.setenv(JOBS_VARIABLE, "2")
    monkeypatch.chdir(tmp_path)  # no features here: fold_numbers refuses, in the spawned process
    with pytest.raises(PipelineError, match="holds no folds: run `dvc repro vectorize`"):
        parallel_map(fold_numbers, [(), ()])


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
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
    assert result.stderr.strip().splitlines() == [
        "error: UWF_JOBS='all' is not a number of processes: set it to 1 or more, or unset it to use every core"]
    assert sorted(project.rglob("*")) == before
