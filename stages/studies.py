"""studies: chapter 5's experiments on the current task's features, each with its curves, plot and
verdict, then one Markdown table of every claim (reports/studies.md).

They run side by side, one process per core (parallel_map), so TensorFlow starts once per core rather than once
per study. A training split of more than studies.<dataset>.max_examples examples is cut to a seeded sample of that
many (stratified for classification; sample_for_studies), which the summary, each verdict and the model card name.
"""
import pandas as pd

from stages.lib import paths
from stages.lib.artifacts import read_features, read_indexed
from stages.lib.environment import record
from stages.lib.errors import run_stage
from stages.lib.io import atomic_dir, atomic_path, write_csv, write_json
from stages.lib.parallel import parallel_map
from stages.lib.params import load_params
from stages.lib.plots import study_png
from stages.lib.studies import (Study, count_line, define_studies, run_study, sample_for_studies, sample_sentence,
                                studies_sample, study_form, summary_markdown, verdict_word)
from stages.lib.task import read_task

# The curves of each form: a regression model reports its loss (MSE) and MAE, no accuracy nor cross-entropy.
CURVE_COLUMNS = {"classification": ["epoch", "loss", "accuracy", "cross_entropy", "val_loss", "val_accuracy",
                                    "val_cross_entropy"],
                 "regression": ["epoch", "loss", "mae", "val_loss", "val_mae"]}


def write_study(study: Study, histories: dict, verdict: dict) -> dict:
    """Write one study's curves (one CSV per variant), plot and verdict; returns the verdict."""
    columns = CURVE_COLUMNS[verdict["form"]]
    with atomic_dir(paths.study_curves(study.name)) as tmp:
        for variant, history in histories.items():
            write_csv(tmp / f"{variant}.csv", history[columns])
        if not histories:  # not applicable: an empty curve keeps the declared output in place
            write_csv(tmp / "not_applicable.csv", pd.DataFrame(columns=columns))
    outcome = verdict_word(verdict)
    study_png(paths.study_png(study.name), histories, f"{study.name}: {outcome}", verdict["form"])
    write_json(paths.study_metrics(study.name), verdict)
    print(f"studies: {study.name} {outcome}")
    return verdict


def run_named_study(name: str, task, settings, seed: int, dataset: str) -> tuple:
    """run_study of the study called `name` on the first fold, or on its seeded sample when its training split has
    more than studies.<dataset>.max_examples examples (the verdict then records the sample); a job for
    parallel_map, which cannot send a Study (its verdict is a function) nor needs to send the features."""
    train, validation, sample = sample_for_studies(read_features("train", 0), read_features("validation", 0),
                                                   settings.max_examples, seed, task.is_regression,
                                                   key=f"studies.{dataset}.max_examples")
    histories, verdict = run_study(define_studies(settings, study_form(task))[name], task, train, validation,
                                   settings, seed, read_indexed(0))
    return histories, ({**verdict, "sample": sample} if sample else verdict)


def main() -> None:
    params = load_params()
    task = read_task()
    studies = define_studies(params.study_settings, study_form(task))
    outcomes = parallel_map(run_named_study, [(name, task, params.study_settings, params.seed, params.task.dataset)
                                              for name in studies])
    verdicts = {name: write_study(studies[name], *outcome) for name, outcome in zip(studies, outcomes)}
    sample = studies_sample(verdicts)
    if sample:
        print(f"studies: {sample_sentence(sample, task.is_regression)}")
    with atomic_path(paths.STUDIES_SUMMARY) as tmp:
        tmp.write_text(summary_markdown(params.task.dataset, verdicts))
    record("studies")
    print(f"studies: {count_line(verdicts)} on {params.task.dataset} ({study_form(task)} form) -> "
          f"{paths.STUDIES_SUMMARY}")


if __name__ == "__main__":
    run_stage(main)
