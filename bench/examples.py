"""The shipped example datasets through the whole workflow with the default params: what the
pipeline measures on each, and how long a cold `dvc repro evaluate` takes.

Each runs in a fresh clone in a temporary folder, with only params changed, as the README
shows. Small data means iterated K-fold (5 folds x 3 repeats), so expect minutes per dataset.

    python bench/examples.py [breast_cancer diabetes reviews]
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

from clone import ROOT, fresh_clone, timed

sys.path.insert(0, str(ROOT))
from stages.lib.splitting import read_split  # noqa: E402
from stages.lib.task import read_task  # noqa: E402

EXAMPLES = {
    "breast_cancer": {"task": {"dataset": "table"}},
    "diabetes": {"task": {"dataset": "table"}, "collect": {"table": {
        "path": "data/examples/diabetes.csv", "target": "progression", "time_column": None, "numeric": None,
        "categorical": ["sex"]}}},
    "reviews": {"task": {"dataset": "text"}},
}


def run(name: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        repo = Path(folder)
        fresh_clone(repo, EXAMPLES[name])
        seconds = timed(repo, sys.executable, "-m", "dvc", "repro", "evaluate")
        read = lambda path: json.loads((repo / path).read_text())  # noqa: E731
        task, split = read_task(repo / "reports/task.json"), read_split(repo)
        result = read("reports/metrics/evaluate.json")
        validation = read("reports/validation.json")
    metric = task.primary_metric
    print(f"{name}: {task.problem_type}, {split['protocol']} ({len(split['folds'])} folds), "
          f"test {metric} {result[f'test_{metric}']:.4f}, cross-validated {result[f'validation_{metric}_mean']:.4f} "
          f"± {result[f'validation_{metric}_std']:.4f}, baseline {result['baseline'][f'test_{metric}']:.4f}, "
          f"overfit model {result['overfit'][f'test_{metric}']:.4f}, skill {result['skill_over_baseline']:.3f}; "
          f"validation max JS {validation['max_js_divergence']:.3f}; cold dvc repro evaluate {seconds:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("examples", nargs="*", metavar="EXAMPLE", help=f"any of {', '.join(EXAMPLES)} (default: all)")
    names = parser.parse_args().examples or list(EXAMPLES)
    unknown = [name for name in names if name not in EXAMPLES]
    if unknown:
        parser.error(f"unknown example(s) {unknown}: choose from {', '.join(EXAMPLES)}")
    for name in names:
        run(name)


if __name__ == "__main__":
    main()
