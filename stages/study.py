"""study NAME: one of chapter 5's experiments on the current task's features, with its verdict."""
import sys

import pandas as pd

from stages.lib import paths
from stages.lib.artifacts import read_features
from stages.lib.environment import record
from stages.lib.errors import PipelineError, run_stage
from stages.lib.io import atomic_dir, read_json, write_csv, write_json
from stages.lib.params import load_params
from stages.lib.plots import study_png
from stages.lib.studies import define_studies, run_study, verdict_word

CURVE_COLUMNS = ["epoch", "loss", "accuracy", "cross_entropy", "val_loss", "val_accuracy", "val_cross_entropy"]


def main(name: str) -> None:
    params = load_params()
    studies = define_studies(params.study_settings)
    if name not in studies:
        raise PipelineError(f"unknown study '{name}': choose one of {sorted(studies)}")
    task = read_json(paths.TASK)
    histories, verdict = run_study(studies[name], task, read_features("train", 0), read_features("validation", 0),
                                   params.study_settings, params.seed)
    with atomic_dir(paths.study_curves(name)) as tmp:
        for variant, history in histories.items():
            write_csv(tmp / f"{variant}.csv", history[CURVE_COLUMNS])
        if not histories:  # not applicable: an empty curve keeps the declared output in place
            write_csv(tmp / "not_applicable.csv", pd.DataFrame(columns=CURVE_COLUMNS))
    outcome = verdict_word(verdict)
    study_png(paths.study_png(name), histories, f"{name}: {outcome}")
    write_json(paths.study_metrics(name), verdict)
    record(f"study@{name}")
    print(f"study {name}: {outcome}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m stages.study NAME")
    run_stage(lambda: main(sys.argv[1]))
