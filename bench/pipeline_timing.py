"""Time a cold `dvc repro` of the default pipeline (the workflow, then the studies) and the no-op
`dvc repro` / `dvc status` after it.

Works in a fresh git repository in a temporary folder (the project's code and params copied
in), so the checkout's own outputs and DVC cache are untouched. Prints seconds; the goals
are the workflow (collect .. evaluate) under 120 s, the eight studies under 300 s, and a
no-op answer under 3 s on the 2-core machine.

    python bench/pipeline_timing.py [--noop-repeats 5] [--first evaluate] [--then STAGE]

--first and --then pick other stages for the two cold runs (--then: by default every stage).
"""
import argparse
import statistics
import tempfile
from pathlib import Path

from clone import DVC, fresh_clone, tiny, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noop-repeats", type=int, default=1 if tiny() else 5)
    parser.add_argument("--first", default="evaluate", metavar="STAGE", help="the first cold run's target")
    parser.add_argument("--then", metavar="STAGE", help="the second cold run's target (default: every stage)")
    args = parser.parse_args()
    first, then = ("repro", args.first), ("repro", args.then) if args.then else ("repro",)
    with tempfile.TemporaryDirectory() as folder:
        repo = Path(folder)
        fresh_clone(repo)
        cold = timed(repo, *DVC, *first)
        rest = timed(repo, *DVC, *then)
        noop = [timed(repo, *DVC, *then) for _ in range(args.noop_repeats)]
        status = [timed(repo, *DVC, "status", *then[1:]) for _ in range(args.noop_repeats)]
    first_is = " (the 9 workflow stages)" if args.first == "evaluate" else ""
    then_is = "" if args.then else " (export, optimize, the 8 studies and their summary)"
    print(f"cold dvc repro {args.first}{first_is}: {cold:.1f} s (goal < 120 s)")
    print(f"then dvc {' '.join(then)}{then_is}: {rest:.1f} s (goal < 300 s)")
    print(f"no-op dvc {' '.join(then)}: median {statistics.median(noop):.2f} s of {[round(t, 2) for t in noop]} "
          "(goal < 3 s)")
    print(f"no-op dvc {' '.join(('status',) + then[1:])}: median {statistics.median(status):.2f} s "
          f"of {[round(t, 2) for t in status]}")

if __name__ == "__main__":
    main()
