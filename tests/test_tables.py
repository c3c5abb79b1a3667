"""Your own table or texts through collect: inference, chapter 6's missing values, and every bad input."""
import json
import re

import numpy as np
import pandas as pd
import pytest

from stages import collect
from stages.lib import paths
from stages.lib.errors import PipelineError
from stages.lib.kinds import kind_named, read_raw
from stages.lib.params import load_params
from stages.lib.tables import column_roles, infer_problem
from stages.lib.splitting import read_split
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
    (lambda p: small_table().assign(churned=[1.0, None] * 20).to_csv(p, index=False), {},
     r"target column 'churned' has a single class 1: a classifier"),  # 1, as written: not np.float64\(1.0\)
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
    ("collect", "deduplicate", "sometimes", r"bad value for 'collect.deduplicate'"),
    ("split", "min_class_examples", 0, r"bad value for 'split.min_class_examples'"),
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


def messy_table(n=420) -> pd.DataFrame:
    """What a new user's table holds: ids, names, a constant, booleans with gaps, dates, a mostly empty
    column, country codes that look like missing markers, and a 1:14 string target (a few per split)."""
    rng = np.random.default_rng(1)
    income = rng.normal(3000, 500, n).round(2)
    income[rng.random(n) < 0.6] = np.nan
    member = rng.choice(np.array([True, False, None], dtype=object), n)
    return pd.DataFrame({
        "PassengerId": np.arange(1, n + 1),
        "customerID": [f"{i:04d}-{''.join(rng.choice(list('ABCDEFGH'), 5))}" for i in range(n)],
        "Name": [f"{rng.choice(['Ann', 'Bob', 'Cy', 'Dee'])} {rng.choice(['Lee', 'Kim', 'Roy'])} no. {i}"
                 for i in range(n)],
        "plan": "basic",
        "member": member,
        "signup": pd.date_range("2023-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
        "income": income,
        "country": rng.choice(["NA", "FR", "None", "n/a"], n),
        "age": rng.integers(18, 80, n),
        "balance": rng.normal(0, 1, n),
        "churned": np.where(np.arange(n) % 15 == 0, "yes", "no"),
    })


def test_a_messy_table_runs_through_collect_define_task_split_and_vectorize(project, default_params, capsys,
                                                                           monkeypatch):
    from stages import define_task, split, vectorize

    frame = messy_table()
    record = run_collect(project, default_params, frame)
    notice = capsys.readouterr().out.splitlines()[0]
    assert record["excluded"] == {
        "PassengerId": "an identifier: distinct integers stepping like a row counter",
        "customerID": "free text or an identifier: 420 distinct values in 420 rows",
        "Name": "free text or an identifier: 420 distinct values in 420 rows",
        "plan": "constant: the same value in every row",
        "signup": "dates: name it in collect.table.time_column for a time-ordered split, or derive numeric "
                  "features (year, month, weekday) from it"}
    assert notice.startswith("collect: left 5 column(s) out of the features: 'PassengerId' (an identifier")
    assert "collect.table.exclude" in notice
    assert record["columns"] == {"numeric": ["income", "age", "balance"], "categorical": ["member", "country"]}
    assert record["class_names"] == ["no", "yes"] and record["class_counts"] == {"0": 392, "1": 28}
    x, _ = read_raw()
    assert list(x.columns) == ["income", "age", "balance", "member", "country"]
    assert set(x["member"].dropna()) == {"true", "false"} and x["member"].isna().sum() == frame["member"].isna().sum()
    assert set(x["country"]) == {"NA", "FR", "None", "n/a"}  # codes, not gaps
    define_task.main()
    assert json.loads((project / paths.TASK).read_text())["primary_metric"] == "pr_auc"  # 1:14 is imbalanced
    split.main()
    vectorize.main()
    from stages.lib.artifacts import read_features

    stats = json.loads((project / paths.PREPROCESSING).read_text())
    assert stats["missing_indicators"] == ["income"]
    assert stats["categories"] == {"member": ["false", "missing", "true"], "country": ["FR", "NA", "None", "n/a"]}
    features, y = read_features("test")
    assert np.isfinite(features).all() and features.shape[1] == 3 + 1 + 3 + 4 and (y == 1).sum() == 6
    written = {path: path.read_bytes() for path in sorted((project / paths.FEATURES_DIR).rglob("*.npz"))}
    from stages.lib.io import row_blocks

    monkeypatch.setattr(vectorize, "row_blocks", lambda indices: row_blocks(indices, 7))  # many small blocks
    vectorize.main()
    assert {path: path.read_bytes() for path in written} == written


def test_exclude_lists_columns_or_keeps_them_all(project, default_params):
    frame = messy_table(60)
    record = run_collect(project, default_params, frame, exclude=["Name", "signup"])
    assert record["excluded"] == {"Name": "named in collect.table.exclude", "signup": "named in collect.table.exclude"}
    assert "PassengerId" in record["columns"]["numeric"] and "plan" in record["columns"]["categorical"]
    record = run_collect(project, default_params, frame, exclude=[])
    assert record["excluded"] == {} and len(record["columns"]["categorical"]) == 6
    # auto, but a column named in numeric or categorical is kept
    record = run_collect(project, default_params, frame, numeric=["PassengerId"], categorical=["plan"])
    assert "PassengerId" not in record["excluded"] and "plan" not in record["excluded"]
    with pytest.raises(PipelineError, match=r"has no column 'nmae' \(named by collect.table.exclude\)"):
        run_collect(project, default_params, frame, exclude=["nmae"])


def test_a_constant_column_kept_with_exclude_none_vectorizes_harmlessly():
    from stages.lib.kinds.table import TableFeatures

    x = pd.DataFrame({"plan": pd.array(["basic"] * 6, dtype="string"), "size": [1.0, 1.0, 1.0, 2.0, 3.0, 4.0],
                      "flat": [5.0] * 6})
    features = TableFeatures(["size", "flat"], ["plan"], "standard", "median", 2).fit(x).transform(x)
    assert np.isfinite(features).all() and features[:, 1].tolist() == [0.0] * 6 and features[:, 2].tolist() == [1.0] * 6


@pytest.mark.parametrize("values, numeric, reason", [
    (list(range(1, 31)), True, "an identifier"),
    ([i * 10 for i in range(30)][::-1], True, "an identifier"),  # any order, any even step
    ([i for i in range(35) if i not in (4, 17)], True, "an identifier"),  # a few rows dropped
    (list(range(1, 11)), True, None),  # too few rows to tell an id from a small table's numbers
    ([20, 21, 23, 26, 27, 30, 31, 33, 38, 40, 41, 44, 45, 47, 50, 51, 55, 56, 58, 60, 61, 64], True, None),  # ages
    ([float(i) + 0.5 for i in range(30)], True, None),
    ([f"item {i}" for i in range(15)], False, None),  # few distinct values: a category
    ([f"city {i % 12}" for i in range(30)], False, None),
    ([f"code {i}" for i in range(20)] * 2, False, None),  # every value repeats: a category, however many values
    ([f"name {i}" for i in range(27)] + ["unknown"] * 3, False, "free text or an identifier: 28 distinct values in 30 rows"),
    ([f"name {i}" for i in range(26)] + ["unknown"] * 4, False, None),  # 26 of 30 rows unique: under 90%
    (["Mon", "Tue", "Sat"] * 10, False, None),  # day names are categories, not dates
    (["10-12", "1-2", "3-5"] * 10, False, None),  # ranges, not dates
    ([f"{i % 28 + 1:02d}/03/2024" for i in range(30)], False, "dates"),
    ([True, False] * 15, False, None),
])
@pytest.mark.parametrize("as_categories", [False, True])
def test_auto_exclusion_rules(values, numeric, reason, as_categories):
    from stages.lib.tables import columns_to_exclude

    features = pd.DataFrame({"c": values})
    if as_categories and not numeric:  # as a parquet string column is read, with a category no row has
        features["c"] = features["c"].astype("category").cat.add_categories(["never used"])
    roles = {"numeric": ["c"], "categorical": []} if numeric else {"numeric": [], "categorical": ["c"]}
    found = columns_to_exclude(features, roles, named=[]).get("c")
    assert (found or "").startswith(reason or "") and (found is None) == (reason is None)


def coded_table(n=3000) -> pd.DataFrame:
    """Issue 27: a code of 1,718 values over 3,000 rows (aircraft tail numbers, each seen now and then), beside
    columns that never repeat: people's names and free-text comments (with a few "none" among them)."""
    rng = np.random.default_rng(27)
    letters = np.array(list("ABCDEFGHJKLMNPRSTUVWXYZ"))
    codes = np.array(sorted({f"N{rng.integers(100, 1000)}{''.join(rng.choice(letters, 2))}" for _ in range(1800)})[:1718])
    tails = rng.permutation(np.concatenate([codes, rng.choice(codes, n - len(codes))]))
    first = [f"{a}{b}" for a in ("Al", "Bea", "Cy", "Dor", "Eli", "Fay", "Gus", "Hal") for b in ("", "ice", "ton", "ena", "o")]
    last = [f"{a}{b}" for a in ("Lee", "Kim", "Roy", "Diaz", "Ng", "Okafor", "Berg", "Novak", "Sato", "Moreau")
            for b in ("", "son", "stein", "ez", "-Hill", "ley", "man", "er", "ini", "sky")]
    names = [f"{first[k % len(first)]} {last[k // len(first)]}" for k in rng.choice(len(first) * len(last), n, replace=False)]
    words = np.array("the delivery was late early fine broken box arrived great service slow refund asked again "
                     "never staff helpful rude price fair too high app crashed twice ok".split())
    comments = [" ".join(rng.choice(words, rng.integers(6, 13))) for _ in range(n)]
    comments = np.where(rng.random(n) < 0.05, "none", np.array(comments, dtype=object))
    return pd.DataFrame({"tail_number": tails, "name": names, "comment": comments, "plan": rng.choice(["basic", "pro"], n),
                         "churned": np.where(rng.random(n) < 0.3, "yes", "no")})


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_code_whose_values_repeat_is_a_category_however_many_values(project, default_params, suffix):
    frame = coded_table()
    counts = frame["tail_number"].value_counts()
    assert len(counts) == 1718 and (counts == 1).sum() < 0.3 * len(frame)  # 1,718 codes, most rows repeat one
    assert frame["name"].is_unique and 0.9 < (frame["comment"].value_counts() == 1).sum() / len(frame) < 1
    record = run_collect(project, default_params, frame, suffix=suffix)
    assert record["excluded"] == {"name": "free text or an identifier: 3000 distinct values in 3000 rows",
                                  "comment": f"free text or an identifier: {frame['comment'].nunique()} distinct "
                                             "values in 3000 rows"}
    assert record["columns"] == {"numeric": [], "categorical": ["tail_number", "plan"]}
    x, _ = read_raw()
    assert x["tail_number"].nunique() == 1718 and x["tail_number"].dtype == "category"
    as_strings = frame[["tail_number", "plan"]].astype(object)  # the content hash does not depend on the encoding
    assert record["sha256"] == kind_named("table").content_hash(as_strings, read_raw()[1])


def test_a_zip_code_column_is_a_category_and_digits_stored_as_text_stop_collect(project, default_params):
    from stages.lib.tables import columns_to_exclude

    rng = np.random.default_rng(27)  # the column: 1,718 zip codes over 3,000 rows
    codes = np.array([f"{z:05d}" for z in rng.choice(100_000, 1718, replace=False)], dtype=object)
    features = pd.DataFrame({"zip": rng.permutation(np.concatenate([codes, rng.choice(codes, 3000 - 1718)]))})
    assert features["zip"].nunique() == 1718
    assert columns_to_exclude(features, {"numeric": [], "categorical": ["zip"]}, named=[]) == {}
    frame = small_table().assign(zip=[f"{z:05d}" for z in range(2130, 2170)])  # parquet keeps "02139" text
    with pytest.raises(PipelineError, match=r"column 'zip' holds only numbers, stored as text: list it in "
                                            r"collect.table.categorical if it is a code"):
        run_collect(project, default_params, frame, suffix=".parquet")
    record = run_collect(project, default_params, frame, suffix=".parquet", categorical=["zip"])
    assert "zip" in record["columns"]["categorical"] and read_raw()[0]["zip"][9] == "02139"


def test_the_shipped_examples_lose_no_column(project, default_params):
    from tests.conftest import ROOT

    for name, target in (("breast_cancer.csv", "diagnosis"), ("diabetes.csv", "progression")):
        write_params(project, table_params(default_params, ROOT / "data/examples" / name, target=target))
        collect.main()
        assert json.loads((project / paths.RAW_MANIFEST).read_text())["excluded"] == {}


def test_only_empty_cells_are_missing_unless_params_list_markers(project, default_params):
    codes = ["NA", "None", "n/a", "", "FR"] + ["DE"] * 7
    sizes = ["1", "?"] + [str(i) for i in range(3, 13)]
    text = "code,size,label\n" + "".join(f"{c},{s},{'ab'[i % 2]}\n" for i, (c, s) in enumerate(zip(codes, sizes)))
    with pytest.raises(PipelineError, match=r"column 'size' holds numbers but '\?' \(row 2\) does not parse: fix the "
                                            r"value, add it to collect.table.missing_values if it marks a gap"):
        run_collect(project, default_params, text=text, target="label")
    run_collect(project, default_params, text=text, target="label", missing_values=["?", "NA"])
    x, _ = read_raw()
    assert pd.isna(x["code"][0]) and x["code"].tolist()[1:3] == ["None", "n/a"] and pd.isna(x["code"][3])
    assert np.isnan(x["size"][1]) and x["size"][2] == 3.0
    run_collect(project, default_params, text=text.replace("?", "2"), target="label")
    x, _ = read_raw()
    assert x["code"].tolist()[:3] == ["NA", "None", "n/a"] and pd.isna(x["code"][3])  # only the empty cell is missing


def test_parquet_booleans_and_missing_markers(project, default_params):
    frame = small_table().assign(member=pd.array([True, None, False, True] * 10, dtype="boolean"),
                                 code=["?", "NA", "FR", "DE"] * 10, income=[-999.0, 1.5, 2.5, 3.5] * 10)
    record = run_collect(project, default_params, frame, suffix=".parquet", missing_values=["?", -999])
    x, _ = read_raw()
    assert record["columns"]["categorical"] == ["city", "member", "code"]
    member, code = (x[name].astype("string").tolist()[:3] for name in ("member", "code"))  # categoricals of strings
    assert member == ["true", pd.NA, "false"] and code == [pd.NA, "NA", "FR"]
    assert np.isnan(x["income"][0]) and x["income"][1] == 1.5


def test_a_numeric_missing_marker_in_a_csv(project, default_params):
    frame = small_table().assign(income=[-999.0, 1.5, 2.5, 3.5] * 10)
    run_collect(project, default_params, frame, missing_values=[-999])
    x, _ = read_raw()
    assert np.isnan(x["income"][0]) and x["income"][1] == 1.5


def test_a_boolean_target_has_lower_case_class_names(project, default_params):
    frame = small_table().assign(churned=np.array([True, False, None, False] * 10, dtype=object))
    assert run_collect(project, default_params, frame)["class_names"] == ["false", "true"]


def test_species_names_are_classes(project, default_params):
    frame = small_table().assign(species=["setosa", "versicolor", "virginica", "setosa"] * 10).drop(columns="churned")
    record = run_collect(project, default_params, frame, target="species")
    assert record["class_names"] == ["setosa", "versicolor", "virginica"] and record["problem"] == "classification"


@pytest.mark.parametrize("cell, shown", [("1e400", "inf"), ("-inf", "-inf"), ("5e38", "5e+38")])
def test_a_number_beyond_float32_stops_collect_naming_column_and_row(project, default_params, cell, shown):
    rows = "".join(f"{i},{'yes' if i % 2 else 'no'}\n" for i in range(8))
    text = "income,churned\n" + "3,\n" + rows + f"{cell},yes\n"  # row 1 has no target: rows keep their file numbers
    with pytest.raises(PipelineError, match=rf"column 'income' has {re.escape(shown)} \(row 10\), infinite or beyond float32's "
                                            r"±3.4e\+38: fix the value, or empty the cell if it is unknown") as error:
        run_collect(project, default_params, text=text)
    assert "\n" not in str(error.value) and not (project / paths.RAW_DIR).exists()


def test_a_duplicated_header_stops_collect(project, default_params):
    text = "diagnosis,radius,diagnosis,radius,area\nM,1,B,2,3\nB,2,M,3,4\n"
    with pytest.raises(PipelineError, match=r"mine.csv has duplicated column header\(s\) \['diagnosis', 'radius'\]: "
                                            "give every column its own name") as error:
        run_collect(project, default_params, text=text, target="diagnosis")
    assert "\n" not in str(error.value) and not (project / paths.RAW_DIR).exists()


def test_exclude_cannot_name_a_column_used_elsewhere(default_params, tmp_path):
    write_params(tmp_path, table_params(default_params, "x.csv", target="y", exclude=["y", "a"], numeric=["a"]))
    with pytest.raises(PipelineError, match=r"columns \['a', 'y'\] are in exclude and also named as target"):
        load_params(tmp_path / "params.yaml")


def test_a_table_of_only_ids_and_constants_stops_collect(project, default_params):
    frame = pd.DataFrame({"id": np.arange(30), "plan": "basic", "churned": ["yes", "no"] * 15})
    with pytest.raises(PipelineError, match=r"every feature column was excluded \(id, plan\): name the columns to use "
                                            r"in collect.table.numeric or categorical"):
        run_collect(project, default_params, frame)
    assert not (project / paths.RAW_DIR).exists()


def passenger_list(n=1309) -> pd.DataFrame:
    """A passenger list of few, coarse columns (sex, class, age with gaps) and a row number: most passengers share
    their row with others, and are different people."""
    rng = np.random.default_rng(5)
    sex = rng.choice(["male", "female"], n, p=[0.64, 0.36])
    pclass = rng.choice([1, 2, 3], n, p=[0.25, 0.21, 0.54])
    age = np.where(rng.random(n) < 0.2, np.nan, rng.choice([2.0, 18.0, 24.0, 30.0, 36.0, 45.0, 60.0], n))
    survived = (rng.random(n) < np.where(sex == "female", 0.73, 0.19) - 0.05 * (pclass - 2)).astype(int)
    return pd.DataFrame({"row": np.arange(1, n + 1), "pclass": pclass, "sex": sex, "age": age, "survived": survived})


def test_a_tables_identical_rows_are_kept_counted_and_split_together(project, default_params, capsys):
    from stages import split

    frame = passenger_list()
    record = run_collect(project, default_params, frame, target="survived")
    repeats = len(frame) - len(frame[["pclass", "sex", "age"]].drop_duplicates())
    assert repeats > 1200  # 42 distinct rows, plus the ages' gaps
    assert record["examples"] == 1309 and record["duplicates_removed"] == 0 and record["repeats_kept"] == repeats
    assert record["class_counts"] == {str(k): int(v) for k, v in frame["survived"].value_counts().sort_index().items()}
    line = capsys.readouterr().out.splitlines()[-1]
    assert line.startswith(f"collect: 1309 examples of table; dropped: none; {repeats} repeat an earlier example "
                           "and are kept, each in the same split as the example it repeats "
                           "(collect.deduplicate: true drops them)")
    split.main()
    layout = read_split(project)
    x, y = read_raw()
    rows = np.array(["|".join(map(str, row)) for row in x.itertuples(index=False)])
    assert not set(rows[layout["test"]]) & set(rows[layout["development"]])
    assert 200 < len(layout["test"]) < 330 and abs(y[layout["test"]].mean() - y.mean()) < 0.05


def test_dropping_a_tables_repeats_is_a_choice_and_is_counted(project, default_params, capsys):
    frame = passenger_list()
    params = table_params(default_params, project / "mine.csv", target="survived")
    params["collect"]["deduplicate"] = True
    frame.loc[[3, 4], "survived"] = None
    frame.to_csv(project / "mine.csv", index=False)
    write_params(project, params)
    collect.main()
    record = json.loads((project / paths.RAW_MANIFEST).read_text())
    kept = record["examples"]
    assert kept < 100 and record["duplicates_removed"] == 1307 - kept and record["repeats_kept"] == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith(
        f"collect: {kept} examples of table; dropped: 2 without a target, {1307 - kept} repeating an earlier example "
        "(collect.deduplicate)")


def test_empty_and_missing_texts_are_dropped_and_counted(project, default_params, capsys):
    path = project / "mails.csv"
    path.write_text('text,label\n"buy now",spam\n,ham\n"   ",ham\n"see you at noon",ham\n"hi",\n"cheap pills",spam\n'
                    '"lunch?",ham\n')
    write_params(project, text_params(default_params, path))
    collect.main()
    x, y = read_raw()
    assert x.tolist() == ["buy now", "see you at noon", "cheap pills", "lunch?"] and y.tolist() == [1, 0, 1, 0]
    record = json.loads((project / paths.RAW_MANIFEST).read_text())
    assert record["empty_texts_dropped"] == 2 and record["rows_without_target_dropped"] == 1
    assert "dropped: 1 without a target, 2 with an empty text" in capsys.readouterr().out


def test_a_text_file_of_only_empty_texts_stops_collect(project, default_params):
    path = project / "mails.csv"
    path.write_text("text,label\n,spam\n  ,ham\n")
    write_params(project, text_params(default_params, path))
    with pytest.raises(PipelineError, match="text column 'text' is empty in every labelled row"):
        collect.main()
    assert not (project / paths.RAW_DIR).exists()


def test_a_class_too_rare_to_judge_stops_split_before_any_training(project, default_params):
    from stages import define_task, split

    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"x1": rng.normal(size=2000), "x2": rng.normal(size=2000),
                          "fraud": np.where(np.isin(np.arange(2000), [5, 400, 800, 1200, 1600, 1999]), "yes", "no")})
    run_collect(project, default_params, frame, target="fraud")
    define_task.main()
    with pytest.raises(PipelineError) as error:
        split.main()
    message = str(error.value)
    assert message.startswith("class 'yes' has 6 example(s), 1 of them in the test split, which needs at least 5")
    assert "\n" not in message and not (project / paths.SPLIT).exists()


def test_a_regression_target_with_one_value_in_a_split_stops_split(project, default_params):
    from stages import split

    frame = pd.DataFrame({"when": pd.date_range("2024-01-01", periods=100, freq="D").strftime("%Y-%m-%d"),
                          "x": np.random.default_rng(0).normal(size=100), "level": np.r_[np.linspace(0, 1, 60), np.full(40, 2.5)]})
    run_collect(project, default_params, frame, target="level", time_column="when")
    with pytest.raises(PipelineError, match="the test split holds 20 example\\(s\\) with a single target value"):
        split.main()
    assert not (project / paths.SPLIT).exists()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_dates_named_as_categories_are_the_same_strings_from_a_csv_and_a_parquet_file(project, default_params, suffix):
    frame = small_table().assign(opened=pd.to_datetime(["2020-01-01", "2021-06-30"] * 20))
    run_collect(project, default_params, frame, suffix=suffix, categorical=["opened"])
    x, _ = read_raw()
    assert sorted(x["opened"].astype("string").unique()) == ["2020-01-01", "2021-06-30"]
