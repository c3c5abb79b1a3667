"""Time the review commands in this checkout, after `dvc repro`: the no-op `dvc status` and
`dvc repro`, the lineage audit of the chosen model, and the pull-request report against a revision.

    python bench/review_tools.py [--base HEAD] [--repeats 5]

Prints medians in seconds; the goal for the no-op answers is under 3 s on the 2-core machine.
"""
import argparse
import statistics
import sys
import tempfile

from clone import ROOT, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD", help="the revision the report compares with")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as output:
        commands = {
            "no-op dvc status": (sys.executable, "-m", "dvc", "status"),
            "no-op dvc repro": (sys.executable, "-m", "dvc", "repro"),
            "python -m stages.audit": (sys.executable, "-m", "stages.audit"),
            f"python -m stages.report --base {args.base}": (sys.executable, "-m", "stages.report", "--base", args.base,
                                                            "--output", f"{output}/report"),
        }
        for name, command in commands.items():
            times = [timed(ROOT, *command) for _ in range(args.repeats)]
            print(f"{name}: median {statistics.median(times):.2f} s of {[round(t, 2) for t in times]}")


if __name__ == "__main__":
    main()
