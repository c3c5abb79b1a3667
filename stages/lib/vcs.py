"""The git and DVC command lines, called as a user would, for the audit and the pull-request report.

DVC's `--json` outputs are its stable interface; its Python internals change between releases.
"""
import json
import subprocess
from pathlib import Path
import sys

from stages.lib.errors import PipelineError

WORKSPACE = "workspace"  # DVC's name for the uncommitted working tree


def _run(command: list, what: str) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True)
    except FileNotFoundError:
        raise PipelineError(f"`{command[0]}` is not installed: install it to {what}") from None
    if result.returncode != 0:
        detail = (result.stderr.strip() or result.stdout.strip()).splitlines()
        raise PipelineError(f"`{' '.join(command[:3])} ...` failed: {detail[-1] if detail else 'no output'}")
    return result.stdout


def git(*args: str) -> str:
    return _run(["git", *args], "read the project's history").rstrip("\n")


def dvc_json(*args: str):
    """Run a dvc command with --json in this interpreter's environment and parse its output."""
    output = _run([sys.executable, "-m", "dvc", *args, "--json"], "compare revisions")
    return json.loads(output) if output.strip() else {}


def require_repository() -> None:
    try:
        git("rev-parse", "--show-toplevel")
    except PipelineError:
        raise PipelineError("not inside a git repository: run this from the project's clone") from None


def resolve_revision(rev: str) -> str:
    """The full commit id of `rev`, or a one-line error naming the revision."""
    require_repository()
    try:
        return git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    except PipelineError:
        raise PipelineError(f"unknown git revision {rev!r}: give a commit, branch or tag "
                            "(`git log --oneline` lists them)") from None


def describe_commit(rev: str) -> dict:
    commit = resolve_revision(rev)
    return {"commit": commit, "short": commit[:7], "subject": git("log", "-1", "--format=%s", commit),
            "date": git("log", "-1", "--format=%cI", commit)}


def uncommitted(*paths: str) -> list:
    """Which of `paths` (files or folders) differ from HEAD in the working tree, new files included."""
    lines = git("status", "--porcelain", "--untracked-files=all", "--", *paths).splitlines()
    return sorted(line[3:] for line in lines if line.strip())


def read_at(rev, path: str):
    """A committed file's text at `rev` (None: the workspace's file), or None where it does not exist."""
    if rev is None:
        try:
            return Path(path).read_text()
        except FileNotFoundError:
            return None
    result = subprocess.run(["git", "show", f"{rev}:./{path}"], capture_output=True, text=True)  # ./: from here
    return result.stdout if result.returncode == 0 else None
