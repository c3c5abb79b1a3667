"""A fresh git + DVC repository holding the project's code, params and example data, as a user's clone."""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(repo: Path, *command: str) -> float:
    """Seconds `command` took in `repo`, with this interpreter's environment first on PATH."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    start = time.perf_counter()
    subprocess.run(command, cwd=repo, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def fresh_clone(repo: Path) -> None:
    shutil.copytree(ROOT / "stages", repo / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "data" / "examples", repo / "data" / "examples")
    for name in ("dvc.yaml", "params.yaml", ".gitignore", ".dvcignore"):
        shutil.copy(ROOT / name, repo / name)
    timed(repo, "git", "init", "-q")
    timed(repo, sys.executable, "-m", "dvc", "init", "-q")
    timed(repo, sys.executable, "-m", "dvc", "config", "core.analytics", "false")
