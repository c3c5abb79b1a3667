"""The "right, not only finished" cases on files shaped like the corpus's: what the pipeline prints for each.

    python bench/cases.py [passengers economics rare texts single_class houses penguins]

Each case writes its file (tests/corpus.py's generators, or a small one made here), sets params.yaml as a
user would (plus the corpus run's small training sizes), runs `dvc repro STAGE` in a fresh clone, and prints
the lines the stages print that the case is about, or the one-line error that stopped it, then a figure or two
from the metrics files. Copy this file (and tests/corpus.py) into an older checkout to see what it printed.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from clone import DVC, ROOT, fresh_clone

sys.path.insert(0, str(ROOT))
from tests import corpus  # noqa: E402

SMALL = {"overfit": {"epochs": 15}, "regularize": {"epochs": 20}, "optimize": {"fine_tune_epochs": 1},
         "split": {"folds": 3, "repeats": 1}}


def rare_positives(rng) -> pd.DataFrame:
    """2,000 rows, 6 positives: one lands in the test split."""
    positive = np.isin(np.arange(2000), [5, 400, 800, 1200, 1600, 1999])
    return pd.DataFrame({"amount": rng.lognormal(3, 1, 2000).round(2) + 40 * positive,
                         "hour": rng.integers(0, 24, 2000), "fraud": np.where(positive, "yes", "no")})


def texts_with_gaps(rng) -> pd.DataFrame:
    frame = corpus.spam(rng, 200)
    frame.iloc[3, frame.columns.get_loc("text")] = ""
    frame.iloc[7, frame.columns.get_loc("text")] = None
    return frame


def single_class(rng) -> pd.DataFrame:
    return pd.DataFrame({"x": rng.normal(size=50), "y": np.where(rng.random(50) < 0.9, 1.0, np.nan)})


# name: (file maker, params changes, the stages to reproduce, the stages whose lines to print)
CASES = {
    "passengers": ("passengers", {"collect": {"table": {"target": "survived", "missing_values": ["NA"]}}},
                   "evaluate", ("collect", "split", "evaluate")),
    "economics": ("economics", {"task": {"problem": "regression"},
                                "collect": {"table": {"target": "unemploy", "time_column": "date"}}},
                  "evaluate studies", ("baseline", "evaluate", "studies")),
    "rare": (rare_positives, {"collect": {"table": {"target": "fraud"}}}, "evaluate", ("collect", "split", "evaluate")),
    "texts": (texts_with_gaps, {"task": {"dataset": "text"}, "collect": {"text": {"text_column": "text",
                                                                                  "label_column": "label"}}},
              "validate", ("collect", "validate")),
    "single_class": (single_class, {"collect": {"table": {"target": "y"}}}, "collect", ("collect",)),
    "houses": ("houses", {"collect": {"table": {"target": "SalePrice", "missing_values": ["NA"]}}},
               "optimize", ("evaluate", "optimize")),
    "penguins": ("penguins", {"collect": {"table": {"target": "species", "missing_values": ["NA"]}}},
                 "regularize", ("regularize",)),
}


def write_file(maker, folder: Path) -> Path:
    if isinstance(maker, str):
        return next(item for item in corpus.ITEMS if item.name == maker).write(folder)
    path = folder / f"{maker.__name__}.csv"
    maker(np.random.default_rng(0)).to_csv(path, index=False, na_rep="")
    return path


def run(name: str) -> None:
    maker, changes, stage, shown = CASES[name]
    with tempfile.TemporaryDirectory() as folder:
        repo = Path(folder)
        dataset = changes.get("task", {}).get("dataset", "table")
        changes = json.loads(json.dumps(changes))  # a copy to fill in
        changes.setdefault("task", {}).setdefault("dataset", dataset)
        fresh_clone(repo, {**SMALL, **changes})
        path = write_file(maker, repo / "data")
        params = yaml.safe_load((repo / "params.yaml").read_text())
        params["collect"][dataset]["path"] = path.relative_to(repo).as_posix()
        params["studies"][dataset]["epochs"] = 5
        (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        # The stages' `python` must be this interpreter's.
        path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        result = subprocess.run([*DVC, "repro", "--keep-going", *stage.split()], cwd=repo, capture_output=True,
                                text=True, env={**os.environ, "PATH": path})
        lines = [line for line in result.stdout.splitlines() if line.startswith(tuple(f"{s}" for s in shown))]
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        if result.returncode and not errors:
            errors = result.stderr.strip().splitlines()[-3:]
        print(f"== {name}: dvc repro {stage} -> exit {result.returncode}")
        for line in lines + errors:
            print(line)
        metrics = repo / "reports" / "metrics"
        if name == "penguins" and (metrics / "regularize.json").exists():
            selected = json.loads((metrics / "regularize.json").read_text())["selected"]
            print("regularize.json selected:", {k: v for k, v in selected.items() if "accuracy_ci" in k})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", default=list(CASES), choices=list(CASES))
    for name in parser.parse_args().cases:
        run(name)


if __name__ == "__main__":
    main()
