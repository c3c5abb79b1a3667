"""Your own table or texts through collect: inference, chapter 6's missing values, and every bad input."""
import json

import numpy as np
import pandas as pd
import pytest

from stages import collect
from stages.lib import paths
from stages.lib.artifacts import read_raw
from stages.lib.errors import PipelineError
from stages.lib.params import load_params
from stages.lib.tables import column_roles, infer_problem
from tests.conftest import with_changes, write_params


def table_params(default_params, path, **table):
    return with_changes(default_params, task={"dataset": "table"},
                        collect={"table": {**default_params["collect"]["table"], "path": str(path), **table}})


def text_params(default_params, path, **text):
    return with_changes(default_params, task={"dataset": "text"},
                        collect={"text": {**default_params["collect"]["text"], "path": str(path), **text}})


def small_table(n=40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "age": rng.integers(20, 70, n).astype(float),
        "city": rng.choice(["paris", "lyon", "nice"], n),
        "income": rng.normal(3000, 500, n).round(1),
        "churned": np.where(np.arange(n) % 3 == 0, "yes", "no"),
    })


def run_collect(project, default_params, frame=None, text: str = None, suffix=".csv", **table):
    path = project / f"mine{suffix}"
    if text is not None:
        path.write_text(text)
    elif suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    write_params(project, table_params(default_params, path, target=table.pop("target", "churned"), **table))
    collect.main()
    return json.loads((project / paths.RAW_MANIFEST).read_text())


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_table_is_collected_with_inferred_roles_and_encoded_labels(project, default_params, suffix):
    frame = small_table()
    frame.loc[3, "age"] = np.nan
    frame.loc[5, "city"] = None
    record = run_collect(project, default_params, frame, suffix=suffix)
    assert record["columns"] == {"numeric": ["age", "income"], "categorical": ["city"]}
    assert record["problem"] == "classification" and record["class_names"] == ["no", "yes"]
    assert record["class_counts"] == {"0": 26, "1": 14} and len(record["file_sha256"]) == 64
    x, y = read_raw()
    assert list(x.columns) == ["age", "income", "city"] and np.isnan(x["age"][3]) and pd.isna(x["city"][5])
    assert y.tolist() == [1 if v == "yes" else 0 for v in frame["churned"]]


def test_rows_without_a_target_are_dropped_and_counted(project, default_params):
    frame = small_table()
    frame.loc[[1, 2], "churned"] = None
    record = run_collect(project, default_params, frame)
    assert record["examples"] == 38 and record["rows_without_target_dropped"] == 2


def test_roles_can_be_set_in_params():
    frame = pd.DataFrame({"zip": [75001, 69001, 6000], "size": [1.0, 2.0, 3.0]})
    assert column_roles(frame, None, ["zip"], "f.csv") == {"numeric": ["size"], "categorical": ["zip"]}
    with pytest.raises(PipelineError, match="f.csv has no column 'zipcode' \\(named by collect.table.categorical\\)"):
        column_roles(frame, None, ["zipcode"], "f.csv")


def test_problem_inference():
    assert infer_problem(pd.Series([0, 1, 1, 0])) == "classification"
    assert infer_problem(pd.Series(["a", "b"])) == "classification"
    assert infer_problem(pd.Series([1.5, 2.0, 3.0])) == "regression"
    assert infer_problem(pd.Series(np.arange(100))) == "regression"


def test_regression_target(project, default_params):
    frame = small_table().assign(spend=np.linspace(10.0, 50.0, 40)).drop(columns="churned")
    record = run_collect(project, default_params, frame, target="spend")
    assert record["problem"] == "regression" and "class_counts" not in record
    assert record["target_summary"]["max"] == 50.0


@pytest.mark.parametrize("make, change, message", [
    (lambda p: None, {}, r"mine.csv not found: set collect.table.path"),
    (lambda p: p.write_text(""), {}, r"mine.csv is empty: point params.yaml at a CSV"),
    (lambda p: p.write_text("age,churned\n"), {}, r"mine.csv has a header but no rows"),
    (lambda p: small_table().to_csv(p, index=False), {"target": "left"},
     r"has no column 'left' \(named by collect.table.target\); its columns are \['age', 'city', 'income', 'churned'\]"),
    (lambda p: small_table().assign(churned="no").to_csv(p, index=False), {},
     r"target column 'churned' has a single class 'no': a classifier needs at least two classes"),
    (lambda p: small_table().assign(notes=np.nan).to_csv(p, index=False), {},
     r"column 'notes' is entirely missing: drop it from the file"),
    (lambda p: small_table().assign(income=["12,5"] + ["3000"] * 39).to_csv(p, index=False), {},
     r"column 'income' holds numbers but '12,5' \(row 1\) does not parse"),
    (lambda p: small_table().assign(city=["1", "x"] * 20).to_csv(p, index=False), {"numeric": ["city"]},
     r"column 'city' is listed as numeric but 'x' \(row 2\) is not a number"),
    (lambda p: small_table().assign(when=["2024-01-01", "soon"] * 20).to_csv(p, index=False), {"time_column": "when"},
     r"time column 'when' has 'soon' \(row 2\), which is not a time"),
    (lambda p: p.write_bytes(b"\x00\xff\xfe garbage"), {}, r"mine.csv cannot be read as csv"),
])
def test_bad_tables_stop_collect_with_one_line_and_no_output(project, default_params, make, change, message):
    path = project / "mine.csv"
    make(path)
    write_params(project, table_params(default_params, path, target=change.pop("target", "churned"), **change))
    with pytest.raises(PipelineError, match=message) as error:
        collect.main()
    assert "\n" not in str(error.value)
    assert not (project / paths.RAW_DIR).exists()


@pytest.mark.parametrize("section, key, value, message", [
    ("task", "problem", "ranking", r"bad value for 'task.problem'"),
    ("vectorize", "imputation", "mean", r"bad value for 'vectorize.imputation'"),
    ("split", "protocol", "bootstrap", r"bad value for 'split.protocol'"),
])
def test_unknown_params_values_are_named(default_params, tmp_path, section, key, value, message):
    write_params(tmp_path, with_changes(default_params, **{section: {key: value}}))
    with pytest.raises(PipelineError, match=message):
        load_params(tmp_path / "params.yaml")


def test_a_column_in_both_roles_is_refused(default_params, tmp_path):
    write_params(tmp_path, table_params(default_params, "x.csv", numeric=["a"], categorical=["a"]))
    with pytest.raises(PipelineError, match=r"columns \['a'\] are listed as both numeric and categorical"):
        load_params(tmp_path / "params.yaml")


def test_texts_from_a_csv_with_near_duplicates_dropped(project, default_params):
    path = project / "reviews.csv"
    pd.DataFrame({"review": ["Great film", "great   FILM ", "Awful film", "Dull"], "stars": ["pos", "pos", "neg", "neg"]}
                 ).to_csv(path, index=False)
    write_params(project, text_params(default_params, path, text_column="review", label_column="stars"))
    collect.main()
    x, y = read_raw()
    assert x.tolist() == ["Great film", "Awful film", "Dull"] and y.tolist() == [1, 0, 0]
    record = json.loads((project / paths.RAW_MANIFEST).read_text())
    assert record["duplicates_removed"] == 1 and record["class_names"] == ["neg", "pos"]


def acl_imdb(folder):
    """The aclImdb layout: train/ and test/, one folder of .txt files per class, plus unlabelled train/unsup."""
    for part in ("train", "test"):
        for label in ("neg", "pos", "unsup"):
            if part == "test" and label == "unsup":
                continue
            (folder / part / label).mkdir(parents=True)
            for i in range(3):
                (folder / part / label / f"{i}_7.txt").write_text(f"{part} {label} review number {i}")
    return folder


def test_texts_from_class_folders_pool_train_and_test(project, default_params):
    folder = acl_imdb(project / "aclImdb")
    write_params(project, text_params(default_params, folder, classes=["neg", "pos"]))
    collect.main()
    x, y = read_raw()
    assert len(x) == 12 and np.bincount(y).tolist() == [6, 6]
    assert "test pos review number 2" in x.tolist()
    write_params(project, text_params(default_params, folder, classes=["neg", "positive"]))
    with pytest.raises(PipelineError, match=r"no class folder of .txt files named 'positive'; found \['neg', 'pos', 'unsup'\]"):
        collect.main()


def test_text_csv_missing_its_text_column(project, default_params):
    path = project / "reviews.csv"
    pd.DataFrame({"body": ["a", "b"], "label": [0, 1]}).to_csv(path, index=False)
    write_params(project, text_params(default_params, path))
    with pytest.raises(PipelineError, match=r"has no column 'text' \(named by collect.text.text_column\)"):
        collect.main()
    assert not (project / paths.RAW_DIR).exists()


def test_built_in_datasets_refuse_another_problem_type(project, default_params):
    write_params(project, with_changes(default_params, task={"problem": "regression"}))
    with pytest.raises(PipelineError, match="task.problem=regression does not fit digits"):
        collect.main()


def test_the_shipped_examples_are_what_the_generator_makes(tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    examples = ROOT / "data" / "examples"
    subprocess.run([sys.executable, str(examples / "make_examples.py"), str(tmp_path)], check=True, capture_output=True)
    for name in ("breast_cancer.csv", "diabetes.csv", "reviews.csv"):
        assert (tmp_path / name).read_bytes() == (examples / name).read_bytes(), name


def test_collect_exits_nonzero_with_one_line_on_a_bad_table(project, default_params):
    import subprocess
    import sys

    from tests.conftest import ROOT

    (project / "mine.csv").write_text("age,churned\n31,yes\n40,yes\n")
    write_params(project, table_params(default_params, project / "mine.csv", target="churned"))
    result = subprocess.run([sys.executable, "-m", "stages.collect"], cwd=project, capture_output=True, text=True,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(project)})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {project / 'mine.csv'}: target column 'churned' has a single class 'yes': "
        "a classifier needs at least two classes"]
    assert not (project / paths.RAW_DIR).exists()


@pytest.mark.parametrize("write, change, message", [
    (lambda p: p.mkdir(), {}, r"mine.csv is a folder: point params.yaml at a CSV"),
    (lambda p: p.write_text("churned\nyes\nno\n"), {}, r"has no feature columns besides the target"),
    (lambda p: p.write_text("age,churned\n31,\n40,\n"), {}, r"target column 'churned' is empty in every row"),
    (lambda p: p.write_text("age,churned\n31,1.5\n40,lots\n"), {"problem": "regression"},
     r"regression target 'churned' has 'lots' \(row 2\), not a number"),
])
def test_more_bad_tables_stop_collect(project, default_params, write, change, message):
    path = project / "mine.csv"
    write(path)
    params = table_params(default_params, path, target="churned")
    params["task"].update(change)
    write_params(project, params)
    with pytest.raises(PipelineError, match=message):
        collect.main()
    assert not (project / paths.RAW_DIR).exists()


def test_texts_cannot_be_a_regression_target(project, default_params):
    path = project / "reviews.csv"
    pd.DataFrame({"text": ["a", "b"], "label": [0.5, 1.5]}).to_csv(path, index=False)
    params = text_params(default_params, path)
    params["task"]["problem"] = "regression"
    write_params(project, params)
    with pytest.raises(PipelineError, match="task.problem=regression is not supported for text"):
        collect.main()
    assert not (project / paths.RAW_DIR).exists()
