"""The whole pipeline on a dataset you name, in a fresh clone, one stage at a time: every stage's wall
seconds, then the test scores with their 95% intervals. For the real MNIST of the shared data:

    python bench/real_data.py mnist --data-dir ../shared/data/mnist [--target STAGE] [--keep FOLDER]

Only params change (task.dataset, collect.data_dir), as a user would change them. Each stage runs
as `dvc repro -s STAGE`, in the order a whole `dvc repro TARGET` runs them, so each figure includes
its process start-up.
"""
import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

import yaml

from clone import DVC, fresh_clone, run, timed


def stage_order(repo: Path, target) -> list:
    """The stages `dvc repro [target]` runs, in dvc.yaml's order (the order they run in)."""
    _, dot = run(repo, *DVC, "dag", "--dot", *([target] if target else []))
    needed = set(re.findall(r'^"([^"]+)";$', dot, flags=re.MULTILINE))
    return [name for name in yaml.safe_load((repo / "dvc.yaml").read_text())["stages"] if name in needed]


def measure(repo: Path, dataset: str, data_dir, target) -> None:
    changes = {"task": {"dataset": dataset}}
    if data_dir:
        changes["collect"] = {"data_dir": str(Path(data_dir).resolve())}
    fresh_clone(repo, changes)
    stages = stage_order(repo, target)
    print(f"{dataset}{f' from {data_dir}' if data_dir else ''}, in {repo}: {len(stages)} stages, one at a time")
    total = 0.0
    for stage in stages:
        seconds = timed(repo, *DVC, "repro", "-s", stage)
        total += seconds
        print(f"  {stage:<12} {seconds:7.1f} s", flush=True)
    print(f"  all {len(stages)} stages {total:.0f} s")
    examples = json.loads((repo / "data/raw/manifest.json").read_text())["examples"]
    if "evaluate" not in stages:
        print(f"{examples} examples; no test scores (evaluate was not among the stages run)")
        return
    evaluation = json.loads((repo / "reports/metrics/evaluate.json").read_text())
    print(f"{examples} examples; test scores (95% intervals):")
    for key in sorted(evaluation):
        if key.startswith("test_") and f"{key}_ci_low" in evaluation:
            print(f"  {key[5:]} {evaluation[key]:.4f} [{evaluation[f'{key}_ci_low']:.4f}, {evaluation[f'{key}_ci_high']:.4f}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", help="task.dataset: digits, mnist, imdb, table or text")
    parser.add_argument("--data-dir", help="collect.data_dir: the folder holding the published files")
    parser.add_argument("--target", help="the last stage to run (default: every stage)")
    parser.add_argument("--keep", type=Path, metavar="FOLDER", help="run in this new folder and keep it")
    args = parser.parse_args()
    if args.data_dir and not Path(args.data_dir).is_dir():
        sys.exit(f"--data-dir {args.data_dir} is not a folder")
    if args.keep:
        if args.keep.exists() and any(args.keep.iterdir()):
            sys.exit(f"{args.keep} is not empty: give a new or empty folder")
        args.keep.mkdir(parents=True, exist_ok=True)
        measure(args.keep, args.dataset, args.data_dir, args.target)
        return
    with tempfile.TemporaryDirectory() as folder:
        measure(Path(folder), args.dataset, args.data_dir, args.target)


if __name__ == "__main__":
    main()
