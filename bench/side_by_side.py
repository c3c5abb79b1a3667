"""One benchmark on two commits, side by side: before/after figures measured in one sitting.

    python bench/side_by_side.py BEFORE AFTER [--rounds 3] -- SCRIPT [ARGS ...]

Each commit is checked out in its own git worktree (in a temporary folder), and SCRIPT, a file of
bench/ as that commit has it, runs there with this interpreter: BEFORE, AFTER, BEFORE, AFTER, ...
for --rounds rounds, so that both see the same load on the machine. Then every line of output is
printed once, each figure on it as the median over rounds of BEFORE -> AFTER (xAFTER/BEFORE).
Lines are matched by their words (numbers taken out); a line only one commit prints is marked so.
"""
import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def figures(output: str) -> dict:
    """{the line with its numbers as '#': its numbers}, in the order printed."""
    return {NUMBER.sub("#", line): [float(n) for n in NUMBER.findall(line)] for line in output.splitlines()}


def medians(runs: list) -> dict:
    """Figure by figure, the median over runs of each line's numbers (lines every run printed alike)."""
    return {line: [statistics.median(run[line][i] for run in runs) for i in range(len(numbers))]
            for line, numbers in runs[0].items() if all(len(run.get(line, ())) == len(numbers) for run in runs)}


def compared(line: str, before: list, after: list) -> str:
    def pair(a: float, b: float) -> str:
        return f"{a:g}" if a == b else f"{a:g} -> {b:g}" + (f" (x{b / a:.2f})" if a else "")

    parts = line.split("#")
    return parts[0] + "".join(pair(a, b) + rest for a, b, rest in zip(before, after, parts[1:]))


def filled(line: str, numbers: list) -> str:
    parts = line.split("#")
    return parts[0] + "".join(f"{n:g}" + rest for n, rest in zip(numbers, parts[1:]))


def side_by_side(before: dict, after: dict) -> list:
    lines = [compared(line, numbers, after[line]) if line in after else f"{filled(line, numbers)}  (only before)"
             for line, numbers in before.items()]
    return lines + [f"{filled(line, numbers)}  (only after)" for line, numbers in after.items() if line not in before]


def run_script(worktree: Path, script: list) -> str:
    result = subprocess.run([sys.executable, str(worktree / "bench" / script[0]), *script[1:]], cwd=worktree,
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{script[0]} failed in {worktree} (exit {result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     usage="%(prog)s BEFORE AFTER [--rounds N] -- SCRIPT [ARGS ...]")
    parser.add_argument("before", help="a commit (hash, tag, branch, HEAD~3, ...)")
    parser.add_argument("after")
    parser.add_argument("--rounds", type=int, default=3)
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args, script = parser.parse_args(argv[:cut]), argv[cut + 1:]
    if not script:
        parser.error("give the benchmark after --, e.g. -- pipeline_timing.py --repeats 1")
    with tempfile.TemporaryDirectory() as folder:
        trees = {}
        try:
            for label, commit in (("before", args.before), ("after", args.after)):
                added = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach",
                                        str(Path(folder) / label), commit], capture_output=True, text=True)
                if added.returncode != 0:
                    sys.exit(f"cannot check out {commit!r}: {added.stderr.strip()}")
                trees[label] = Path(folder) / label
            outputs = {"before": [], "after": []}
            for round_number in range(1, args.rounds + 1):
                for label in outputs:
                    outputs[label].append(figures(run_script(trees[label], script)))
                    print(f"round {round_number} of {args.rounds}: {label} done", file=sys.stderr, flush=True)
        finally:
            for tree in trees.values():
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                               capture_output=True)
    print(f"{' '.join(script)}: before {args.before}, after {args.after}, medians of {args.rounds} alternating "
          "rounds (before -> after (x after/before))")
    print("\n".join(side_by_side(medians(outputs["before"]), medians(outputs["after"]))))


if __name__ == "__main__":
    main()
