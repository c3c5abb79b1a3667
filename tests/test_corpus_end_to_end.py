"""Every stage of dvc.yaml, studies, export and optimize included, on each item of tests/corpus.py.

Each item gets a fresh git+dvc repository, its file in the published format, and params.yaml
changed only where a user would change it (task.dataset, collect.table.* / collect.text.*), plus
small training sizes to keep a run cheap. Then one `dvc repro`. `pytest -s` prints the wall time
and the test score per item; corpus_results.md in pytest's base temporary folder collects them.
"""
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from stages.lib import paths
from stages.lib.export import as_instances, raw_batch
from stages.lib.kinds import read_raw
from stages.lib.splitting import read_split
from tests import corpus
from tests.conftest import copy_pipeline
from tests.test_model_card import assert_the_card_shows_the_headline
from tests.test_pipeline_end_to_end import dvc, environment, run

# Items whose final model is also retrained with a second seed (evaluate.seeds): a regression and a 1:20 label.
TWO_SEEDS = {"houses", "churn"}
# Sizes that make a run cheap (two folds, two candidates, few epochs: on hundreds of rows a fit's cost is mostly
# its fixed overhead); everything else stays at its default.
SMALL = {"overfit.epochs": 10, "regularize.epochs": 12, "studies.{dataset}.epochs": 3, "optimize.fine_tune_epochs": 1,
         "split.folds": 2, "split.repeats": 1,
         "regularize.candidates": [{"name": "smaller", "units": [128], "early_stopping_patience": 5},
                                   {"name": "dropout", "units": [512, 512], "dropout": 0.5,
                                    "early_stopping_patience": 5}]}


def has_key(params: dict, dotted: str) -> bool:
    *parents, last = dotted.split(".")
    for part in parents:
        params = params.get(part)
        if not isinstance(params, dict):
            return False
    return last in params


def set_key(params: dict, dotted: str, value) -> None:
    assert has_key(params, dotted), f"params.yaml has no key {dotted}"
    *parents, last = dotted.split(".")
    for part in parents:
        params = params[part]
    params[last] = value


def user_params(params: dict, item: corpus.Item, data_path: str) -> list:
    """Change params as a user of this file would, shrink the training; returns the pending keys not yet there."""
    set_key(params, f"collect.{item.dataset}.path", data_path)
    for key, value in item.params.items():
        set_key(params, key, value)
    absent = [key for key in item.pending if not has_key(params, key)]
    for key, value in item.pending.items():
        if key not in absent:
            set_key(params, key, value)
    for key, value in SMALL.items():
        set_key(params, key.format(dataset=item.dataset), value)
    return absent


def stage_names(pipeline: dict) -> set:
    """dvc.yaml's stages as dvc.lock names them (a foreach stage once per item: name@item)."""
    names = set()
    for name, stage in pipeline["stages"].items():
        names |= {f"{name}@{entry}" for entry in stage["foreach"]} if "foreach" in stage else {name}
    return names


def failure(stdout: str, stderr: str) -> str:
    """The stage that failed and its error line (else the line before DVC's ERROR: a traceback's last)."""
    started = [line.split("'")[1] for line in stdout.splitlines() if line.startswith("Running stage '")]
    lines = [line for line in stderr.splitlines() if line.strip()]
    ours = [line for line in lines if line.startswith("error:")]
    dvcs = [k for k, line in enumerate(lines) if line.startswith("ERROR:")]
    line = ours[0] if ours else lines[dvcs[0] - 1] if dvcs and dvcs[0] else (lines or ["no output"])[-1]
    return f"{started[-1] if started else '?'}: {line}"


def record(table: Path, row: list) -> None:
    if not table.exists():
        table.write_text("| item | seconds | outcome |\n|---|---|---|\n")
    with table.open("a") as file:
        file.write("| " + " | ".join(str(cell) for cell in row) + " |\n")


@pytest.mark.pipeline
@pytest.mark.parametrize("item", corpus.ITEMS, ids=[item.name for item in corpus.ITEMS])
def test_every_stage_runs_on_the_corpus_item(item, tmp_path, tmp_path_factory):
    repo = tmp_path / "repo"
    copy_pipeline(repo)
    data = item.write(repo / "data")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    absent = user_params(params, item, data.relative_to(repo).as_posix())
    if item.name in TWO_SEEDS:
        set_key(params, "evaluate.seeds", 2)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    if absent:
        print(f"\ncorpus {item.name}: params.yaml has no {', '.join(absent)} yet: left unset")
    run(repo, "git", "init", "-q")
    dvc(repo, "init", "-q")
    dvc(repo, "config", "core.analytics", "false")

    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "dvc", "repro"], cwd=repo, env=environment(),
                            capture_output=True, text=True)
    seconds = round(time.monotonic() - start)
    table = tmp_path_factory.getbasetemp() / "corpus_results.md"
    if result.returncode != 0:
        outcome = f"failed in {failure(result.stdout, result.stderr)}"
        record(table, [item.name, seconds, outcome])
        print(f"\ncorpus {item.name}: {seconds} s, {outcome} (table: {table})")
        pytest.fail(f"dvc repro on {item.name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")

    metric = json.loads((repo / paths.TASK).read_text())["primary_metric"]
    score = json.loads((repo / paths.EVALUATE_METRICS).read_text()).get(f"test_{metric}")
    record(table, [item.name, seconds, f"test {metric} {score}"])
    print(f"\ncorpus {item.name}: {seconds} s, test {metric} {score} (table: {table})")
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    assert stage_names(yaml.safe_load((repo / "dvc.yaml").read_text())) <= set(lock)
    assert isinstance(score, float) and np.isfinite(score)
    evaluation = json.loads((repo / paths.EVALUATE_METRICS).read_text())
    low, high = evaluation[f"test_{metric}_ci_low"], evaluation[f"test_{metric}_ci_high"]
    assert low <= score <= high and low < high
    assert (f"test_{metric}_seed_std" in evaluation) == (item.name in TWO_SEEDS)
    predictions = pd.read_csv(repo / paths.TEST_PREDICTIONS)
    assert predictions["example"].tolist() == read_split(repo)["test"].tolist()
    recorded = json.loads((repo / paths.ENVIRONMENT).read_text())
    assert {"evaluate", "export", "optimize", "studies"} <= set(recorded["stages"])
    assert (repo / paths.EXPORT_DIR / "signature.json").exists()
    assert (repo / paths.STUDIES_SUMMARY).stat().st_size > 0
    raw = json.loads((repo / paths.RAW_MANIFEST).read_text())
    if item.name == "passengers":  # identical rows are observations: all kept, none in two splits
        assert raw["examples"] == 1309 and raw["duplicates_removed"] == 0 and raw["repeats_kept"] > 800
        assert json.loads((repo / paths.VALIDATION).read_text())["cross_split_duplicates"] == 0
    if raw["time_column"]:  # a series is also judged against its last known value
        assert "last_value" in json.loads((repo / paths.BASELINE_METRICS).read_text())
        assert f"test_{metric}" in json.loads((repo / paths.EVALUATE_METRICS).read_text())["last_value"]
    page = assert_the_card_shows_the_headline(repo)
    assert ("error by range of the actual value" if raw["problem"] == "regression" else "Confusion matrix") in page
    worst_example = "<blockquote>" if item.dataset == "text" else '<div class="scroll"><table><tr><th>'  # quoted, or a row
    assert worst_example in page
    if item.dataset == "table" and not raw["time_column"]:
        # The user's own test rows, as a client would send them, pass the monitor.
        signature = json.loads((repo / paths.EXPORT_DIR / "signature.json").read_text())["input"]
        x, _ = read_raw(repo / paths.RAW_DIR)
        test_rows = x.iloc[read_split(repo)["test"]]
        (repo / "rows.json").write_text(json.dumps({"instances": as_instances(raw_batch(test_rows, signature), signature)}))
        assert "no drift" in run(repo, sys.executable, "-m", "stages.monitor", "rows.json")


# The generators: as messy as the published files, and the same bytes every time.

def published(item: corpus.Item, folder: Path) -> tuple:
    """The file as pandas reads it by default, and as its literal cells."""
    path = item.write(folder)
    return pd.read_csv(path), pd.read_csv(path, keep_default_na=False, dtype=str)


def by_name(name: str) -> corpus.Item:
    return next(item for item in corpus.ITEMS if item.name == name)


@pytest.mark.parametrize("item", corpus.ITEMS, ids=[item.name for item in corpus.ITEMS])
def test_an_item_writes_the_same_bytes_every_time(item, tmp_path):
    first, second = item.write(tmp_path / "a"), item.write(tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    assert 300 <= len(pd.read_csv(first)) <= 1500


def test_titanic_has_ids_names_gaps_and_na_as_a_category(tmp_path):
    frame, cells = published(by_name("titanic"), tmp_path)
    assert len(frame) == 891 and frame["PassengerId"].is_unique
    assert frame["Name"].nunique() / len(frame) > 0.98 and cells["Name"].str.match(r"^[\w' -]+, \w+\. ").all()
    assert 0.15 < frame["Age"].isna().mean() < 0.25 and frame["Cabin"].isna().mean() > 0.5
    assert 1 <= frame["Embarked"].isna().sum() <= 5
    assert set(cells["adult_male"]) == {"True", "False"} and cells["ship"].nunique() == 1
    assert pd.to_datetime(cells["ticket_date"], format="%Y-%m-%d").dt.year.eq(1912).all()
    assert {"NA", "None"} <= set(cells["home_region"]) | set(cells["travel_party"])
    assert (cells["home_region"] != "").all()
    rates = frame.groupby("Sex")["Survived"].mean()
    assert 0.3 < frame["Survived"].mean() < 0.45 and rates["female"] - rates["male"] > 0.3


def test_passengers_are_few_coarse_columns_where_most_rows_repeat_another(tmp_path):
    frame, cells = published(by_name("passengers"), tmp_path)
    assert len(frame) == 1309 and frame["age"].isna().sum() == 263 and (cells["age"] == "NA").sum() == 263
    distinct = len(frame.drop(columns="rownames").drop_duplicates())
    assert distinct < 500  # 1309 people, most identical in every column to another
    assert set(frame["passengerClass"]) == {"1st", "2nd", "3rd"} and 0.35 < (frame["survived"] == "yes").mean() < 0.45


def test_churn_is_one_to_twenty_with_string_ids_and_blank_total_charges(tmp_path):
    frame, cells = published(by_name("churn"), tmp_path)
    counts = frame["Churn"].value_counts()
    assert len(frame) == 1200 and 19 <= counts["No"] / counts["Yes"] <= 21
    assert cells["customerID"].str.fullmatch(r"\d{4}-[A-Z]{5}").all() and cells["customerID"].is_unique
    blank = cells["TotalCharges"] == " "
    assert 1 <= blank.sum() <= 10 and (frame.loc[blank, "tenure"] == 0).all()
    assert pd.to_numeric(cells.loc[~blank, "TotalCharges"]).gt(0).all()
    by_contract = frame.assign(churned=frame["Churn"] == "Yes").groupby("Contract")["churned"].mean()
    assert by_contract["Month-to-month"] > by_contract["Two year"]


def test_penguins_has_three_named_species_and_na_markers(tmp_path):
    frame, cells = published(by_name("penguins"), tmp_path)
    assert len(frame) == 344 and frame["species"].value_counts().to_dict() == {"Adelie": 152, "Gentoo": 124,
                                                                               "Chinstrap": 68}
    measured = frame[["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]]
    assert measured.isna().all(axis=1).sum() == 2 and frame["sex"].isna().sum() == 11
    assert (cells["sex"] == "NA").sum() == 11 and set(frame["island"]) == {"Biscoe", "Dream", "Torgersen"}
    assert frame.groupby("species")["flipper_length_mm"].mean().idxmax() == "Gentoo"


def test_houses_has_wide_prices_many_gaps_and_quality_codes(tmp_path):
    frame, cells = published(by_name("houses"), tmp_path)
    assert len(frame) == 900 and frame.shape[1] >= 30 and frame["Id"].is_unique
    assert (frame["SalePrice"].min(), frame["SalePrice"].max()) == (35000, 755000)
    assert frame.isna().mean().mean() > 0.1 and frame["PoolQC"].notna().sum() == 4
    assert set(cells["ExterQual"]) <= {"Po", "Fa", "TA", "Gd", "Ex"} and "None" in set(cells["MasVnrType"])
    assert (cells["LotFrontage"] == "NA").mean() > 0.1
    assert np.corrcoef(frame["OverallQual"], np.log(frame["SalePrice"]))[0, 1] > 0.5


def test_economics_is_a_monthly_series_with_trends_and_a_noisy_target(tmp_path):
    frame, cells = published(by_name("economics"), tmp_path)
    dates = pd.to_datetime(cells["date"], format="%Y-%m-%d")
    assert len(frame) == 574 and cells["date"].iloc[0] == "1967-07-01" and (dates.dt.day == 1).all()
    assert dates.is_monotonic_increasing and dates.diff().dt.days.dropna().between(28, 31).all()
    months = np.arange(len(frame))
    assert np.corrcoef(months, frame["pop"])[0, 1] > 0.99 and np.corrcoef(months, np.log(frame["pce"]))[0, 1] > 0.99
    assert 0.05 < frame["unemploy"].diff().std() / frame["unemploy"].std() < 0.5  # noisy, not a straight line


def test_spam_has_31_percent_spam_and_5_percent_repeated_bodies(tmp_path):
    frame, _ = published(by_name("spam"), tmp_path)
    assert len(frame) == 800 and list(frame.columns) == ["Unnamed: 0", "label", "text", "label_num"]
    assert abs((frame["label"] == "spam").mean() - 0.31) < 0.01
    folded = frame["text"].str.lower().str.split().str.join(" ")
    assert 0.04 <= folded.duplicated().mean() <= 0.06 and frame["text"].duplicated().mean() < 0.04
    assert frame["text"].str.startswith(("Subject: ", "SUBJECT: ")).all()


def test_a_failed_run_is_summarized_by_its_stage_and_error_line():
    stdout = "Running stage 'collect':\n> python -m stages.collect\nRunning stage 'split':\n"
    assert failure(stdout, "error: bad thing: fix it\nERROR: failed to reproduce 'split'\n") == \
        "split: error: bad thing: fix it"
    assert failure(stdout, "Traceback\n  File x\nKeyError: 'a'\n\nERROR: failed to reproduce 'split'\n") == \
        "split: KeyError: 'a'"
