"""Time the review commands in this checkout, after `dvc repro`: the no-op `dvc status` and
`dvc repro`, the lineage audit of the chosen model, and the pull-request report against a revision.

    python bench/review_tools.py [--base HEAD] [--repeats 5] [--repo FOLDER] [--target STAGE]

--repo times them in another project folder (e.g. one made by `python bench/clone.py FOLDER
--repro`); --target limits the no-op `dvc status` and `dvc repro` to one stage and its
dependencies, for a folder where only those ran. Prints medians in seconds; the goal for the
no-op answers is under 3 s on the 2-core machine.
"""
import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from clone import DVC, ROOT, run, tiny, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD", help="the revision the report compares with")
    parser.add_argument("--repeats", type=int, default=1 if tiny() else 5)
    parser.add_argument("--repo", type=Path, default=ROOT, help="the project folder (default: this checkout)")
    parser.add_argument("--target", metavar="STAGE", help="the no-op dvc status/repro target (default: every stage)")
    args = parser.parse_args()
    target = (args.target,) if args.target else ()
    _, status = run(args.repo, *DVC, "status", *target)
    if "up to date" not in status:
        sys.exit(f"{args.repo} differs from its dvc.lock, so dvc repro would not be a no-op: run `dvc repro` "
                 f"there first (or give --target):\n{status[:2000]}")
    suffix = "".join(f" {t}" for t in target)
    with tempfile.TemporaryDirectory() as output:
        commands = {
            f"no-op dvc status{suffix}": (*DVC, "status", *target),
            f"no-op dvc repro{suffix}": (*DVC, "repro", *target),
            "python -m stages.audit": (sys.executable, "-m", "stages.audit"),
            f"python -m stages.report --base {args.base}": (sys.executable, "-m", "stages.report", "--base", args.base,
                                                            "--output", f"{output}/report"),
        }
        for name, command in commands.items():
            times = [timed(args.repo, *command) for _ in range(args.repeats)]
            print(f"{name}: median {statistics.median(times):.2f} s of {[round(t, 2) for t in times]}")

if __name__ == "__main__":
    main()
