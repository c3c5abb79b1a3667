"""Rerun the committed pipeline in a fresh git clone on this machine and check every committed test
score against the rerun's 95% interval: the cross-machine half of "same machine, same bytes;
other machine, same conclusions".

    python bench/reproduce.py [--repo FOLDER] [--target STAGE] [--scores REV]

--repo is the project whose HEAD is cloned (default: this checkout); --target the stage to
reproduce (default: evaluate, which every test score comes from; give `all` for every stage);
--scores checks the test scores committed at REV instead of HEAD's (say, a commit whose
dvc.lock another machine made).
Prints which machine made the committed numbers and which reran them, each test score committed
vs rerun with the rerun's interval, and how many committed scores fall inside.
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from clone import DVC, ROOT, run, timed

sys.path.insert(0, str(ROOT))


def compare(committed: dict, rerun: dict) -> list:
    """(metric, committed value, rerun value, rerun interval, inside?) for every headline test score."""
    from stages.lib.pr_report import headline_metrics

    rows = []
    for key in headline_metrics(rerun):
        if key in committed and f"{key}_ci_low" in rerun:
            low, high = rerun[f"{key}_ci_low"], rerun[f"{key}_ci_high"]
            rows.append((key, committed[key], rerun[key], (low, high), low <= committed[key] <= high))
    return rows


def main() -> None:
    from stages.lib import paths
    from stages.lib.environment import describe, differences, summary
    from stages.lib.pr_report import evaluate_machine

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=ROOT, help="the project whose HEAD is rerun (default: this checkout)")
    parser.add_argument("--target", default="evaluate", help="the stage to reproduce, or `all` (default: %(default)s)")
    parser.add_argument("--scores", default="HEAD", metavar="REV", help="the commit whose scores are checked")
    args = parser.parse_args()
    repo = args.repo.resolve()
    with tempfile.TemporaryDirectory() as folder:
        clone = Path(folder) / "clone"
        timed(Path(folder), "git", "clone", "-q", str(repo), str(clone))
        committed = json.loads(run(clone, "git", "show", f"{args.scores}:{paths.EVALUATE_METRICS}")[1])
        recorded = subprocess.run(["git", "show", f"{args.scores}:{paths.ENVIRONMENT}"], cwd=clone,
                                  capture_output=True, text=True)
        environment = json.loads(recorded.stdout) if recorded.returncode == 0 else None
        target = () if args.target == "all" else (args.target,)
        # The clone has no DVC cache: every stage up to the target runs again, on this machine.
        seconds = timed(clone, *DVC, "repro", *target)
        rerun = json.loads((clone / paths.EVALUATE_METRICS).read_text())
        _, head = run(clone, "git", "log", "-1", "--format=%h %s", args.scores)
    current = describe()
    machine = evaluate_machine(environment)
    differing = differences(machine, current) if machine else None
    made_on = summary(machine) if machine else "an unrecorded machine (no reports/environment.json entry for evaluate)"
    print(f"committed: {head.strip()[:80]}, evaluated on {made_on}")
    same = ("the committed scores' machine is unrecorded" if differing is None
            else f"differs in {', '.join(differing)}" if differing else "the same machine")
    print(f"rerun: this machine, {summary(current)}; {same}")
    print(f"dvc repro {' '.join(target) or '(every stage)'} in a fresh clone: {seconds:.0f} s")
    rows = compare(committed, rerun)
    for key, old, new, (low, high), inside in rows:
        print(f"{key}: committed {old:.4g}, rerun {new:.4g} [{low:.4g}, {high:.4g}]: "
              f"{'inside' if inside else 'OUTSIDE'}{' (identical)' if old == new else ''}")
    print(f"{sum(r[4] for r in rows)} of {len(rows)} committed test scores fall inside the rerun's 95% intervals; "
          f"{sum(r[1] == r[2] for r in rows)} are identical")


if __name__ == "__main__":
    main()
