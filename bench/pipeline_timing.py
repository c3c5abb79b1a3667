"""Time a cold `dvc repro` of the default pipeline (the workflow, then the studies) and the no-op
`dvc repro` / `dvc status` after it.

Works in a fresh git repository in a temporary folder (the project's code and params copied
in), so the checkout's own outputs and DVC cache are untouched. Prints seconds; the goals
are the workflow (collect .. evaluate) under 120 s, the eight studies under 300 s, and a
no-op answer under 3 s on the 2-core machine.

    python bench/pipeline_timing.py [--noop-repeats 5]
"""
import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from clone import fresh_clone, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noop-repeats", type=int, default=5)
    args = parser.parse_args()
    dvc = (sys.executable, "-m", "dvc")
    with tempfile.TemporaryDirectory() as folder:
        repo = Path(folder)
        fresh_clone(repo)
        cold = timed(repo, *dvc, "repro", "evaluate")
        studies = timed(repo, *dvc, "repro")
        noop = [timed(repo, *dvc, "repro") for _ in range(args.noop_repeats)]
        status = [timed(repo, *dvc, "status") for _ in range(args.noop_repeats)]
    print(f"cold dvc repro evaluate (the 9 workflow stages, default params): {cold:.1f} s (goal < 120 s)")
    print(f"then dvc repro (the 8 studies and their summary): {studies:.1f} s (goal < 300 s)")
    print(f"no-op dvc repro: median {statistics.median(noop):.2f} s of {[round(t, 2) for t in noop]} (goal < 3 s)")
    print(f"no-op dvc status: median {statistics.median(status):.2f} s of {[round(t, 2) for t in status]}")


if __name__ == "__main__":
    main()
