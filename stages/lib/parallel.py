"""Independent training jobs side by side, one process per core.

A small table's regularize fits 4 candidates x 15 folds of a few hundred rows each: Keras' per-epoch
overhead, on one core, is most of that time, and a second core takes a share of it. Processes are spawned,
not forked (a forked TensorFlow can hang), and each job seeds everything it draws from (models.fresh_model),
so where a job runs cannot change its result: parallel_map(f, jobs) == [f(*job) for job in jobs], to the bit.

UWF_JOBS=N runs at most N processes (like make -j); the test suite sets 1, since pytest-xdist already keeps
every core busy.
"""
import multiprocessing
import os
from collections import deque
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

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
    if not value.isdecimal() or int(value) < 1:
        raise PipelineError(f"{JOBS_VARIABLE}={value!r} is not a number of processes: set it to 1 or more, "
                            f"or unset it to use every core")
    return int(value)


def parallel_map(function, jobs: list) -> list:
    """[function(*job) for job in jobs], in the jobs' order, run in up to processes() processes: this one, which
    takes jobs from the end (it imports TensorFlow anyway, for what the stage does next), and spawned ones, which
    take them from the start, one at a time, so that a slow job cannot leave the others idle. One process runs
    them all here. `function` must be defined at a module's top level; the first exception a job raises is
    raised here, and the jobs no process has taken are dropped."""
    workers = min(len(jobs), processes())
    if workers < 2:
        return [function(*job) for job in jobs]
    untaken, results = deque(range(len(jobs))), {}

    def feed(pool) -> None:  # in a thread: hands a spawned process one job after another
        while (index := take(untaken.popleft)) is not None:
            try:
                results[index] = pool.submit(function, *jobs[index]).result()
            except BaseException:
                untaken.clear()
                raise

    with ProcessPoolExecutor(workers - 1, mp_context=multiprocessing.get_context("spawn")) as pool, \
            ThreadPoolExecutor(workers - 1) as threads:
        feeders = [threads.submit(feed, pool) for _ in range(workers - 1)]
        try:
            while (index := take(untaken.pop)) is not None:
                results[index] = function(*jobs[index])
            for feeder in feeders:
                feeder.result()
        except BaseException:  # a job failed, or Ctrl-C
            untaken.clear()
            raise
    return [results[index] for index in range(len(jobs))]


def take(pop):
    """The next job's index from pop (the deque's popleft or pop, atomic across threads), or None: none left."""
    try:
        return pop()
    except IndexError:
        return None
