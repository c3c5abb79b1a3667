"""A fresh git + DVC repository holding the project's code, params and example data, as a user's clone.

    python bench/clone.py [FOLDER] [--repro [STAGE]]

Makes the clone in FOLDER (default: a temporary folder, removed afterwards), then optionally
runs `dvc repro [STAGE]` there and commits the result; prints the seconds each step took.
bench/drift_check.py, regularize_vs_keras.py and review_tools.py take such a folder with --repo.

With UWF_BENCH_TINY=1 in the environment every benchmark runs tiny: the params below (few
examples, a holdout split, 1-2 epochs, small models), small synthetic files and one repeat.
The test suite runs them so; their figures then mean nothing.
"""
import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DVC = (sys.executable, "-m", "dvc")

TINY_PARAMS = {
    "collect": {"limit": 300},
    "split": {"protocol": "holdout"},
    "overfit": {"units": [32], "epochs": 2, "batch_size": 32, "learning_rate": 0.01},
    "regularize": {"epochs": 2, "batch_size": 32, "learning_rate": 0.01,
                   "candidates": [{"name": "smaller", "units": [16], "early_stopping_patience": 1},
                                  {"name": "dropout", "units": [16], "dropout": 0.5}]},
    "evaluate": {"min_skill_over_baseline": 0.0, "significance": 1.0},  # a 2-epoch model need not pass
    "optimize": {"fine_tune_epochs": 1, "max_score_loss": 1.0},
}
TINY_STUDIES = {"epochs": 2, "units": [16], "capacity_small": [4], "capacity_large": [32, 32], "patience": 1}


def tiny() -> bool:
    return os.environ.get("UWF_BENCH_TINY") == "1"


def merged(base: dict, changes: dict) -> dict:
    """`base` with `changes` applied; nested mappings are merged key by key, anything else replaced."""
    result = dict(base)
    for key, value in changes.items():
        both_mappings = isinstance(value, dict) and isinstance(base.get(key), dict)
        result[key] = merged(base[key], value) if both_mappings else value
    return result


def bench_params(changes=None) -> dict:
    """The checkout's params.yaml with `changes` applied, and made tiny under UWF_BENCH_TINY=1."""
    params = merged(yaml.safe_load((ROOT / "params.yaml").read_text()), changes or {})
    if tiny():
        params = merged(params, TINY_PARAMS)
        params["studies"] = {name: merged(sizes, TINY_STUDIES) for name, sizes in params["studies"].items()}
    return params


def write_params(repo: Path, params: dict) -> None:
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def run(repo: Path, *command: str) -> tuple:
    """(seconds, stdout) of `command` in `repo`, with this interpreter's environment first on PATH;
    exits with the command's output if it fails."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    start = time.perf_counter()
    result = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"`{' '.join(command)}` failed in {repo} (exit {result.returncode}):\n"
                 f"{result.stdout[-2000:]}{result.stderr[-3000:]}")
    return seconds, result.stdout


def timed(repo: Path, *command: str) -> float:
    return run(repo, *command)[0]


def fresh_clone(repo: Path, changes=None) -> None:
    """The project's code, example data and pipeline in `repo`, with bench_params(changes), under git and DVC."""
    shutil.copytree(ROOT / "stages", repo / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "data" / "examples", repo / "data" / "examples")
    for name in ("dvc.yaml", ".gitignore", ".dvcignore"):
        shutil.copy(ROOT / name, repo / name)
    write_params(repo, bench_params(changes))
    timed(repo, "git", "init", "-q")
    timed(repo, *DVC, "init", "-q")
    timed(repo, *DVC, "config", "core.analytics", "false")


def commit(repo: Path, message: str) -> float:
    timed(repo, "git", "add", "-A")
    return timed(repo, "git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", message)


def make(repo: Path, stage=None) -> None:
    start = time.perf_counter()
    fresh_clone(repo)
    print(f"fresh clone in {repo}{' (tiny params)' if tiny() else ''}: {time.perf_counter() - start:.2f} s "
          "to copy the code and run git init, dvc init")
    if stage is not None:
        command = ("repro", stage) if stage else ("repro",)
        print(f"dvc {' '.join(command)}: {timed(repo, *DVC, *command):.1f} s")
        print(f"git commit of the results: {commit(repo, f'dvc {shlex.join(command)}'):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", help="where to make the clone (new or empty); default: a temporary one")
    parser.add_argument("--repro", metavar="STAGE", nargs="?", const="",
                        help="then run `dvc repro [STAGE]` there (no STAGE: every stage) and commit")
    args = parser.parse_args()
    if args.folder is None:
        with tempfile.TemporaryDirectory() as folder:
            make(Path(folder), args.repro)
        return
    folder = Path(args.folder)
    if folder.exists() and any(folder.iterdir()):
        sys.exit(f"{folder} is not empty: give a new or empty folder")
    folder.mkdir(parents=True, exist_ok=True)
    make(folder.resolve(), args.repro)


if __name__ == "__main__":
    main()
