"""Independent training jobs side by side, one process per core.

A small table's regularize fits 4 candidates x 15 folds of a few hundred rows each: Keras' per-epoch
overhead, on one core, is most of that time, and a second core takes a share of it. Processes are spawned,
not forked (a forked TensorFlow can hang), and each job seeds everything it draws from (models.fresh_model),
so where a job runs cannot change its result: parallel_map(f, jobs) == [f(*job) for job in jobs], to the bit.

UWF_JOBS=N caps the processes (like make -j); the test suite sets 1, since pytest-xdist already keeps
every core busy.
"""
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from stages.lib.errors import PipelineError

JOBS_VARIABLE = "UWF_JOBS"


def available_cores() -> int:
    """The cores this process may run on (a container's or taskset's limit, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def processes() -> int:
    """How many processes parallel_map may use: UWF_JOBS if set, else the available cores."""
    value = os.environ.get(JOBS_VARIABLE, "").strip()
    if not value:
        return available_cores()
    if not value.isdigit() or int(value) < 1:
        raise PipelineError(f"{JOBS_VARIABLE}={value!r} is not a number of processes: set it to 1 or more, "
                            f"or unset it to use every core")
    return int(value)


def parallel_map(function, jobs: list) -> list:
    """[function(*job) for job in jobs], in the jobs' order, run in up to processes() spawned processes; in this
    process when one would do. `function` must be defined at a module's top level; an exception a job raises
    is raised here."""
    workers = min(len(jobs), processes())
    if workers < 2:
        return [function(*job) for job in jobs]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(function, *job) for job in jobs]
        return [future.result() for future in futures]
