"""audit: which data, code and params made an artifact, and whether the workspace still matches.

    python -m stages.audit [ARTIFACT] [--json] [--allow-uncommitted]

ARTIFACT is an output in dvc.lock (models/regularized by default), a file inside one, or a
stage name. The exit status is 1 when any file or param in the lineage differs from dvc.lock,
or when dvc.lock, dvc.yaml or params.yaml differ from the commit it names (HEAD), unless
--allow-uncommitted is given. It also names the machines recorded in reports/environment.json
for the lineage's stages and whether this machine differs from them (information only: it never
changes the exit status).
"""
import argparse
import json

from stages.lib import paths
from stages.lib.errors import PipelineError, run_stage
from stages.lib.lineage import LOCK_FILE, audit, commit_mismatch, differing, render


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m stages.audit", description=__doc__.splitlines()[0])
    parser.add_argument("artifact", nargs="?", default=paths.REGULARIZED_DIR,
                        help="an output path, a file inside one, or a stage name (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the audit as JSON")
    parser.add_argument("--allow-uncommitted", action="store_true",
                        help="verify against the workspace's dvc.lock, dvc.yaml and params.yaml even if HEAD differs")
    args = parser.parse_args()
    result = audit(args.artifact, allow_uncommitted=args.allow_uncommitted)
    print(json.dumps(result, indent=2) if args.json else render(result))
    if result["problems"]:
        raise PipelineError(f"{differing(result['problems'])} file(s) or param(s) in the lineage of {args.artifact} "
                            f"differ from {LOCK_FILE}: restore changed outputs with `dvc checkout --force` (cached) or "
                            "`git checkout -- FILE` (reports), or re-run `dvc repro`")
    if not result["verified"]:
        raise PipelineError(commit_mismatch(result))


if __name__ == "__main__":
    run_stage(main)
