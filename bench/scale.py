"""The pipeline at real size (issue 27): a seeded, flights-like table of 100,000 to 10 million rows
through the stages, one at a time; each stage's wall seconds and peak memory, the data's size on disk,
and how time and memory grow with the rows.

    python bench/scale.py --rows 100000 1000000 10000000 [--binary] [--through STAGE] [--keep FOLDER] [--epochs N]

For each size a Parquet file is generated in chunks (never more than CHUNK_ROWS rows in memory; each
chunk seeded from (seed, chunk index), so a size's file is the same on every machine): a departure
time over a year (the time column, increasing with the row: the split is time-ordered), 12 numeric
columns with a few % of gaps each, categorical columns of 3, 16, 100 and 4,000 values of skewed
frequencies (origin, carrier, dest, tailnum) and the target, the departure delay in minutes (a noisy
function of a few numeric columns and of the categories), or with --binary whether it exceeds 15
minutes ("yes"/"no"). A fresh clone (bench/clone.py) gets the file in its data/ folder and the params
of SCALE_PARAMS below, as a user would set them for such a table; then each stage runs as
`dvc repro -s STAGE`, in the order a whole `dvc repro` runs them (`--through STAGE` stops after that
one), so each figure includes its process start-up (TensorFlow's import). Peak RSS is ru_maxrss of
the `dvc repro -s` process and its waited-for descendants (the stage's python), from os.wait4.
The clone's DVC cache links its files into the workspace (CACHE_TYPE, as the README advises for large
tables). After the run: the size on disk of data/raw, data/features and .dvc/cache (hardlinked files
once), and what the cache adds to the workspace's files.
With two sizes or more, the growth exponent of each stage between consecutive sizes:
log(t2/t1) / log(n2/n1), 1 for linear in the rows, for seconds and for peak RSS.

The issue's goals: 1M rows, the whole `dvc repro` within 20 minutes; 10M rows, collect to vectorize
(`--through vectorize`) within 5 minutes; every stage's peak RSS within 2 GB; data/features at most
4 x data/raw. --keep FOLDER runs in FOLDER/rows-N and keeps the clones; otherwise they are temporary.
--epochs N caps every training at N epochs (overfit, regularize, studies, optimize's fine-tuning): at
10 million rows the whole protocol trains for hours, and a stage's memory does not grow with its epochs
(training reads its features a block at a time), so `--rows 10000000 --epochs 1` measures every stage's
peak RSS and an epoch's time in well under an hour.
Under UWF_BENCH_TINY=1 the pipeline's params are tiny (collect.limit 300 whatever the rows: the
figures mean nothing) but the table's stay.
"""
import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from clone import DVC, ROOT, fresh_clone, merged, run, tiny
from real_data import stage_order

SEED = 42
CHUNK_ROWS = 250_000  # rows generated and written at once
TABLE = "data/flights.parquet"  # inside the clone, so that dvc.yaml's ${collect.table.path} dep is the clone's
TARGET, BINARY_TARGET = "dep_delay", "delayed"
# The DVC cache holds each output a second time unless the workspace's files are links to it: hardlinks
# where the file system has them (ext4 has no reflinks), else a copy. The README's "Large tables" advises it.
CACHE_TYPE = "hardlink,copy"

# What a user would set for a table of 100,000 to 10 million rows. bench_params applies it to the
# checkout's params.yaml (and makes the training tiny under UWF_BENCH_TINY=1).
SCALE_PARAMS = {
    "task": {"dataset": "table", "problem": "regression"},
    "collect": {"table": {"path": TABLE, "target": TARGET, "time_column": "time_hour", "numeric": None,
                          # named, so that tailnum (4,000 values) is never left out as an identifier
                          "categorical": ["origin", "carrier", "dest", "tailnum"], "exclude": "auto"}},
    "overfit": {"units": [64, 64], "epochs": 20, "batch_size": "auto", "stop_once_overfit": 3},
    "regularize": {"epochs": 30, "batch_size": "auto",
                   "candidates": [{"name": "l2", "units": [64, 64], "l2": 0.001, "early_stopping_patience": 3},
                                  {"name": "dropout", "units": [64, 64], "dropout": 0.3,
                                   "early_stopping_patience": 3}]},
    "evaluate": {"seeds": 1},
    "studies": {"table": {"epochs": 10, "batch_size": "auto", "units": [64], "capacity_large": [128, 128],
                          "max_examples": 50000}},
}
# --binary: the same table with the delay replaced by whether it exceeds 15 minutes.
BINARY_CHANGES = {"task": {"problem": "classification"}, "collect": {"table": {"target": BINARY_TARGET}}}
# ... and under UWF_BENCH_TINY=1: a time-ordered split cannot be stratified, and on the tiny params' 300
# examples (validation folds of ~50) the class shares differ by sampling noise alone (0.067 seen).
TINY_BINARY_CHANGES = {"validate": {"max_class_proportion_gap": 0.25}}

ORIGINS = ["EWR", "JFK", "LGA"]
CARRIERS = ["UA", "B6", "EV", "DL", "AA", "MQ", "US", "9E", "WN", "VX", "FL", "AS", "F9", "YV", "HA", "OO"]
DESTS = [a + b + c for a, b, c in zip("ABCDEFGHIJKLMNOPQRSTUVWXY" * 4, "AEIOUBCDFGHKLMNPRSTW" * 5,
                                      "XSNLDTRAMO" * 10)]
TAILNUMS = [f"N{100 + i}{chr(65 + i % 26)}{chr(65 + i // 26 % 26)}" for i in range(4000)]
# Numeric columns and the share of their rows left empty.
GAPS = {"sched_dep_hour": 0.005, "distance": 0.01, "air_time": 0.028, "taxi_out": 0.02, "taxi_in": 0.025,
        "temp": 0.03, "humidity": 0.035, "wind_speed": 0.04, "precip": 0.045, "visibility": 0.05,
        "pressure": 0.06, "plane_age": 0.015}
YEAR_SECONDS = 365 * 86400
START = np.datetime64("2013-01-01T00:00:00", "s")


def zipf_shares(n: int, exponent: float) -> np.ndarray:
    shares = 1.0 / np.arange(1, n + 1) ** exponent
    return shares / shares.sum()


def effects(seed: int) -> dict:
    """Each category's fixed contribution to the delay (minutes): the same in every chunk."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
    return {"origin": rng.normal(0, 3, len(ORIGINS)), "carrier": rng.normal(0, 5, len(CARRIERS)),
            "dest": rng.normal(0, 4, len(DESTS)), "tailnum": rng.normal(0, 3, len(TAILNUMS))}


def flights_chunk(rows: int, chunk: int, begin: int, end: int, seed: int, binary: bool, fixed: dict) -> pd.DataFrame:
    """Rows begin..end of a `rows`-row table, from a generator seeded by (seed, chunk)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1, chunk)))
    n = end - begin
    seconds = (np.arange(begin, end, dtype=np.int64) * YEAR_SECONDS // rows) // 60 * 60  # whole minutes
    time_hour = (START + seconds).astype("datetime64[ns]")
    day = seconds / 86400
    codes = {name: rng.choice(len(values), n, p=zipf_shares(len(values), exponent))
             for name, values, exponent in (("origin", ORIGINS, 0.5), ("carrier", CARRIERS, 1.1),
                                            ("dest", DESTS, 1.0), ("tailnum", TAILNUMS, 0.8))}
    distance = np.clip(rng.lognormal(6.6, 0.6, n), 80, 4983)
    numbers = {
        "sched_dep_hour": (seconds % 86400) / 3600,
        "distance": distance,
        "air_time": distance / 7.5 + 20 + rng.normal(0, 8, n),
        "taxi_out": rng.gamma(4, 4, n),
        "taxi_in": rng.gamma(3, 2.5, n),
        "temp": 55 - 25 * np.cos(2 * np.pi * day / 365) + rng.normal(0, 8, n),
        "humidity": np.clip(rng.normal(60, 18, n), 5, 100),
        "wind_speed": rng.gamma(2, 5, n),
        "precip": np.where(rng.random(n) < 0.15, rng.exponential(0.1, n), 0.0),
        "visibility": np.where(rng.random(n) < 0.2, rng.uniform(0, 10, n), 10.0),
        "pressure": rng.normal(1017, 7, n),
        "plane_age": rng.uniform(0, 30, n),
    }
    delay = (-3 + 1.2 * (numbers["sched_dep_hour"] - 12) + 25 * numbers["precip"] + 0.4 * numbers["wind_speed"]
             + 1.5 * (10 - numbers["visibility"]) + 0.3 * (numbers["taxi_out"] - 16) + 0.15 * (numbers["plane_age"] - 15)
             + sum(fixed[name][codes[name]] for name in codes)
             + rng.normal(0, 10, n) + rng.exponential(6, n) - 6)
    delay = np.round(delay)
    frame = pd.DataFrame({"time_hour": time_hour})
    for name, values in (("origin", ORIGINS), ("carrier", CARRIERS), ("dest", DESTS), ("tailnum", TAILNUMS)):
        frame[name] = np.asarray(values, dtype=object)[codes[name]]
    frame.loc[rng.random(n) < 0.008, "tailnum"] = None
    for name, values in numbers.items():
        frame[name] = np.where(rng.random(n) < GAPS[name], np.nan, np.round(values, 2))
    if binary:
        frame[BINARY_TARGET] = np.where(delay > 15, "yes", "no")
    else:
        frame[TARGET] = delay
    return frame


def write_flights(path: Path, rows: int, binary: bool, seed: int = SEED) -> None:
    """The table as Parquet, CHUNK_ROWS rows at a time."""
    fixed = effects(seed)
    writer = None
    try:
        for chunk, begin in enumerate(range(0, rows, CHUNK_ROWS)):
            frame = flights_chunk(rows, chunk, begin, min(begin + CHUNK_ROWS, rows), seed, binary, fixed)
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table.cast(writer.schema))
            del frame, table
    finally:
        if writer is not None:
            writer.close()


def run_stage(repo: Path, stage: str) -> tuple:
    """(exit code, wall seconds, peak RSS in MB, last output lines) of `dvc repro -s stage`."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    with tempfile.TemporaryFile("w+") as output:
        start = time.perf_counter()
        process = subprocess.Popen([*DVC, "repro", "-s", stage], cwd=repo, env=env, stdout=output,
                                   stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(process.pid, 0)  # ru_maxrss: the child and its waited-for descendants
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        output.seek(0)
        tail = output.read().splitlines()[-15:]
    return process.returncode, seconds, usage.ru_maxrss / 1024, tail


def inodes(folder: Path) -> dict:
    """{(device, inode): bytes} of the files under `folder` (hardlinked files once)."""
    found = {}
    for root, _, files in os.walk(folder):
        for name in files:
            info = os.lstat(os.path.join(root, name))
            found[(info.st_dev, info.st_ino)] = info.st_size
    return found


def disk_size(folder: Path, besides=()):
    """Bytes of the files under `folder`, each inode once and none of the `besides` folders' (None when it does
    not exist)."""
    if not folder.exists():
        return None
    shared = {inode for other in besides if other.exists() for inode in inodes(other)}
    return sum(size for inode, size in inodes(folder).items() if inode not in shared)


def mb(size) -> str:
    return "absent" if size is None else f"{size / 2**20:.1f} MB"


def checkout_params() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def scale_params(binary: bool, epochs=None) -> dict:
    """The params' changes for a run: SCALE_PARAMS, for --binary with BINARY_CHANGES, with --epochs every
    training's epochs capped (fine-tuning included)."""
    params = SCALE_PARAMS
    if binary:
        params = merged(merged(params, BINARY_CHANGES), TINY_BINARY_CHANGES if tiny() else {})
    if epochs is not None:
        params = merged(params, {"overfit": {"epochs": min(epochs, params["overfit"]["epochs"])},
                                 "regularize": {"epochs": min(epochs, params["regularize"]["epochs"])},
                                 "studies": {"table": {"epochs": min(epochs, params["studies"]["table"]["epochs"])}},
                                 "optimize": {"fine_tune_epochs": min(epochs, checkout_params()["optimize"]["fine_tune_epochs"])}})
    return params


def measure(repo: Path, rows: int, binary: bool, through, kept: bool = True, epochs=None) -> dict:
    """Generate, clone, run the stages; print this size's table; return its figures."""
    fresh_clone(repo, scale_params(binary, epochs))
    run(repo, *DVC, "config", "--local", "cache.type", CACHE_TYPE)  # as the README advises for large data
    start = time.perf_counter()
    write_flights(repo / TABLE, rows, binary)
    generated = time.perf_counter() - start
    stages = stage_order(repo, through)
    target = BINARY_TARGET if binary else TARGET
    capped = f" (epochs capped at {epochs}: a check of time and memory, not a model)" if epochs is not None else ""
    print(f"{rows:,} rows ({'binary ' + target if binary else target}): {TABLE} {mb((repo / TABLE).stat().st_size)}, "
          f"generated in {generated:.1f} s; {len(stages)} stages in {repo}{' (tiny params)' if tiny() else ''}{capped}",
          flush=True)
    print(f"  {'stage':<14} {'seconds':>8} {'peak RSS MB':>12}")
    figures = {"rows": rows, "stages": {}}
    for stage in stages:
        code, seconds, peak, tail = run_stage(repo, stage)
        if code != 0:
            lines = "\n".join(f"    {line}" for line in tail)
            where = f"in {repo}" if kept else "in a temporary clone (removed; --keep FOLDER keeps it)"
            sys.exit(f"{stage} failed at {rows:,} rows (exit {code}) {where}; its last lines:\n{lines}")
        figures["stages"][stage] = (seconds, peak)
        print(f"  {stage:<14} {seconds:8.1f} {peak:12.0f}", flush=True)
    times = {stage: seconds for stage, (seconds, _) in figures["stages"].items()}
    if {"collect", "vectorize"} <= set(times):
        span = stages[stages.index("collect"):stages.index("vectorize") + 1]
        print(f"  collect to vectorize {sum(times[s] for s in span):.1f} s")
    top = max(figures["stages"], key=lambda stage: figures["stages"][stage][1])
    print(f"  all {len(stages)} stages {sum(times.values()):.1f} s; highest peak RSS {figures['stages'][top][1]:.0f} MB "
          f"({top}; goal <= 2048 MB)")
    figures["sizes"] = {name: disk_size(repo / name) for name in ("data/raw", "data/features", ".dvc/cache")}
    # What the cache adds on disk: its files that are not the workspace's own (hardlinked) outputs.
    workspace = [repo / name for name in ("data", "models", "reports")]
    figures["sizes"]["cache adds"] = disk_size(repo / ".dvc/cache", besides=workspace)
    raw, features = figures["sizes"]["data/raw"], figures["sizes"]["data/features"]
    print(f"  data/raw {mb(raw)}")
    ratio = f" ({features / raw:.2f} x data/raw)" if raw and features is not None else ""
    print(f"  data/features {mb(features)}{ratio}")
    adds = figures["sizes"]["cache adds"]
    print(f"  DVC cache {mb(figures['sizes']['.dvc/cache'])}, of which {mb(adds)} not hardlinked to the workspace "
          f"(cache.type {CACHE_TYPE})")
    if raw and features is not None and adds is not None:
        print(f"  data/features and what the cache adds: {(features + adds) / raw:.2f} x data/raw (goal <= 4)")
    return figures


def exponent(a, b, n1: int, n2: int) -> str:
    if not a or not b:
        return "n/a"
    return f"{round(math.log(b / a) / math.log(n2 / n1), 2) + 0.0:.2f}"  # + 0.0: never "-0.00"


def print_growth(results: list) -> None:
    for small, large in zip(results, results[1:]):
        n1, n2 = small["rows"], large["rows"]
        print(f"growth from {n1:,} to {n2:,} rows, log(x2/x1) / log(n2/n1) (1: linear in the rows):")
        for stage, (seconds, peak) in small["stages"].items():
            if stage in large["stages"]:
                seconds2, peak2 = large["stages"][stage]
                print(f"  {stage:<14} time {exponent(seconds, seconds2, n1, n2):>6}  "
                      f"peak RSS {exponent(peak, peak2, n1, n2):>6}")
        for name, size in small["sizes"].items():
            print(f"  {name:<14} size {exponent(size, large['sizes'][name], n1, n2):>6}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", required=True, metavar="N",
                        help="table sizes, e.g. 100000 1000000 10000000")
    parser.add_argument("--binary", action="store_true", help="a binary target (delayed > 15 min) instead of the delay")
    parser.add_argument("--through", metavar="STAGE", help="the last stage to run (default: every stage)")
    parser.add_argument("--keep", type=Path, metavar="FOLDER", help="run in FOLDER/rows-N and keep the clones")
    parser.add_argument("--epochs", type=int, metavar="N",
                        help="cap every training at N epochs: each stage's memory and an epoch's time at a size "
                             "whose full training would take hours (the scores mean little)")
    args = parser.parse_args()
    if args.epochs is not None and args.epochs < 1:
        parser.error("--epochs: at least 1")
    if min(args.rows) < 100:
        parser.error("--rows: at least 100 rows each")
    stages = list(yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"])
    if args.through is not None and args.through not in stages:
        parser.error(f"--through: unknown stage {args.through!r}: choose from {', '.join(stages)}")
    rows = sorted(set(args.rows))
    if args.keep:
        if args.keep.exists() and any(args.keep.iterdir()):
            sys.exit(f"{args.keep} is not empty: give a new or empty folder")
        args.keep.mkdir(parents=True, exist_ok=True)
    results = []
    for n in rows:
        if args.keep:
            repo = (args.keep / f"rows-{n}").resolve()
            repo.mkdir()
            results.append(measure(repo, n, args.binary, args.through, epochs=args.epochs))
            continue
        with tempfile.TemporaryDirectory() as folder:
            results.append(measure(Path(folder), n, args.binary, args.through, kept=False, epochs=args.epochs))
    print_growth(results)


if __name__ == "__main__":
    main()
