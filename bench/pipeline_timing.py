"""Where a user's wait goes: cold `dvc repro` of the default pipeline and of the workflow, every stage's
seconds split into start-up (imports) and work, a small table's whole run, and the no-op answers.

    python bench/pipeline_timing.py [--repeats 3] [--first evaluate] [--then STAGE] [--no-stages] [--no-table]

Each cold run happens in a fresh git repository in a temporary folder (the project's code and
params copied in), so the checkout's own outputs and DVC cache are untouched; figures are
medians of --repeats runs. Per stage, its command from dvc.lock runs again as DVC runs it, under
`python -X importtime`: start-up is the time its imports took (TensorFlow, Great Expectations,
...), work is the rest. The small table is the 344-row, 3-class penguins-like file of
tests/corpus.py (iterated K-fold 5x3), the same run as the whole one. Goals on the 2-core machine: every
stage 120 s, the workflow 45 s, the table 120 s, a no-op `dvc repro` 1 s.
"""
import argparse
import os
import re
import statistics
import sys
import tempfile
from pathlib import Path

import yaml

from clone import DVC, ROOT, bench_params, fresh_clone, tiny, timed, write_params

_IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+(\d+) \| (\S.*)$")


def import_seconds(stderr: str) -> float:
    """Total import time from `python -X importtime`'s report: the cumulative time of every import made
    at the top level of the process (nested ones are inside those), in seconds."""
    total = 0
    for line in stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match and not match.group(2).startswith(" "):
            total += int(match.group(1))
    return total / 1e6


def stage_profile(repo: Path, repeats: int) -> list:
    """(stage, median wall s, median start-up s) for every stage of dvc.lock, run in its order."""
    import subprocess
    import time

    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    rows = []
    for name, stage in lock.items():
        command = stage["cmd"].split()
        walls, imports = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            result = subprocess.run([sys.executable, "-X", "importtime", *command[1:]], cwd=repo, env=env,
                                    capture_output=True, text=True)
            walls.append(time.perf_counter() - start)
            if result.returncode != 0:
                sys.exit(f"{stage['cmd']} failed in {repo}:\n{result.stderr[-2000:]}")
            imports.append(import_seconds(result.stderr))
        rows.append((name, statistics.median(walls), statistics.median(imports)))
    return rows


def cold(command: tuple, repeats: int, changes=None) -> list:
    """Seconds of `dvc <command>` in `repeats` fresh clones."""
    times = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as folder:
            fresh_clone(Path(folder), changes)
            times.append(timed(Path(folder), *DVC, *command))
    return times


def small_table(command: tuple, repeats: int) -> list:
    sys.path.insert(0, str(ROOT))
    from tests import corpus

    penguins = next(item for item in corpus.ITEMS if item.name == "penguins")
    times = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as folder:
            repo = Path(folder)
            fresh_clone(repo)
            path = penguins.write(repo / "data").relative_to(repo).as_posix()
            params = bench_params({"collect": {"table": {"path": path}}})
            for key, value in {**penguins.params, **penguins.pending}.items():
                section = params
                *parents, last = key.split(".")
                for part in parents:
                    section = section[part]
                section[last] = value
            write_params(repo, params)
            times.append(timed(repo, *DVC, *command))
    return times


def shown(times: list) -> str:
    return f"median {statistics.median(times):.1f} s of {[round(t, 1) for t in times]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1 if tiny() else 3)
    parser.add_argument("--first", default="evaluate", metavar="STAGE", help="the workflow run's target")
    parser.add_argument("--then", metavar="STAGE", help="the whole run's target (default: every stage)")
    parser.add_argument("--no-stages", action="store_true", help="skip the per-stage profile")
    parser.add_argument("--no-table", action="store_true", help="skip the small table's run")
    args = parser.parse_args()
    whole = ("repro", args.then) if args.then else ("repro",)
    print(f"cold dvc repro {args.first}: {shown(cold(('repro', args.first), args.repeats))} (goal <= 45 s)")
    with tempfile.TemporaryDirectory() as folder:
        repo = Path(folder)
        fresh_clone(repo)
        times = [timed(repo, *DVC, *whole)]
        for _ in range(args.repeats - 1):
            times.append(timed(repo, *DVC, *whole, "-f"))
        print(f"cold dvc {' '.join(whole)}: {shown(times)} (goal <= 120 s)")
        noop = [timed(repo, *DVC, *whole) for _ in range(max(3, args.repeats))]
        print(f"no-op dvc {' '.join(whole)}: median {statistics.median(noop):.2f} s of "
              f"{[round(t, 2) for t in noop]} (goal <= 1 s)")
        if not args.no_stages:
            rows = stage_profile(repo, args.repeats)
            print(f"per stage, medians of {args.repeats} (s): wall = start-up (imports) + work")
            for name, wall, imports in rows:
                print(f"  {name}: {wall:.1f} = {imports:.1f} + {wall - imports:.1f}")
            walls, imports = sum(r[1] for r in rows), sum(r[2] for r in rows)
            print(f"  all {len(rows)} stages: {walls:.1f} = {imports:.1f} + {walls - imports:.1f}")
    if not args.no_table:
        times = small_table(whole, args.repeats)
        print(f"small table (344 rows, 3 classes), cold dvc {' '.join(whole)}: {shown(times)} (goal <= 120 s)")


if __name__ == "__main__":
    main()
