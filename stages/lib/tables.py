"""Your own data: a table (CSV or parquet, one target column) or labelled texts (CSV or a folder per class).

Everything here turns a user's file into (x, y, details) for collect, or stops with a
one-line message naming the file, the column and what to do.
"""
import re
from pathlib import Path

import numpy as np
import pandas as pd

from stages.lib.errors import PipelineError, as_written
from stages.lib.features import FLOAT32_MAX
from stages.lib.io import read_parquet
from stages.lib.sources import sha256_of_file

# A numeric target with more distinct values than this (or any non-integer value) is a regression target.
MAX_CLASSES_FOR_AUTO = 20
# A column whose values are at least this share numbers is meant to be numeric: its other values are typos.
MOSTLY_NUMBERS = 0.9
# collect.table.exclude: auto. A column with fewer distinct values than this is never taken for an id or free text.
MIN_DISTINCT_FOR_ID = 20
# A text column is free text or an id (names, ticket numbers, comments) when at least this share of its filled
# rows hold a value that no other row has: a value seen once is unseen in every other fold, nothing to learn.
# A code whose values repeat (zip codes, tail numbers, products) is a category however many values it has:
# vectorize.max_categories keeps its most frequent ones. 0.9 leaves room for a few accidental repeats in a
# names or id column (namesakes, a filler such as "unknown": the corpus's Name and Ticket are 99% unique),
# while repeating codes sit far below it (1,718 zip codes in 3,000 rows: under 30% of rows hold a unique one).
FREE_TEXT_UNIQUE_SHARE = 0.9
# A text column whose values are at least this share dates is a date column.
MOSTLY_DATES = 0.9
DATE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")


def read_table_file(path, missing_values=()) -> pd.DataFrame:
    """A CSV or parquet file as a frame; missing, empty or unreadable files stop collect.

    Only empty cells (parquet: nulls) are missing, plus the cells equal to one of `missing_values`
    (e.g. "?" or -999): "NA" or "None" can be a country code or a category."""
    path = Path(path)
    if not path.exists():
        raise PipelineError(f"{path} not found: set collect.table.path (or collect.text.path) in params.yaml "
                            "to your file")
    if path.is_dir() or path.stat().st_size == 0:
        what = "a folder" if path.is_dir() else "empty"
        raise PipelineError(f"{path} is {what}: point params.yaml at a CSV or parquet file with a header row and data")
    parquet = path.suffix.lower() in (".parquet", ".pq")
    markers = [""] + [str(m) for m in missing_values]
    try:
        if parquet:
            frame = read_parquet(path, strings_as_categories=True).reset_index(drop=True)
        else:
            frame = pd.read_csv(path, keep_default_na=False, na_values=markers)
            header = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False).iloc[0]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError, ValueError) as error:
        kind = path.suffix.lstrip(".") or "CSV"
        raise PipelineError(f"{path} cannot be read as {kind} ({str(error).splitlines()[0]}): fix the file") from None
    if parquet:
        numbers = _as_numbers(pd.Series(markers, dtype=object)).dropna().tolist()
        for name in frame.columns:
            column = frame[name]
            if not pd.api.types.is_bool_dtype(column):
                frame[name] = column.mask(column.isin(numbers if pd.api.types.is_numeric_dtype(column) else markers))
    else:
        repeated = sorted({name for name in header if name and (header == name).sum() > 1})
        if repeated:
            raise PipelineError(f"{path} has duplicated column header(s) {repeated}: give every column its own name "
                                "(rename or delete the repeats)")
    if frame.empty:
        raise PipelineError(f"{path} has a header but no rows: add data to it")
    return frame


def _require_columns(frame: pd.DataFrame, names: list, path, key: str) -> None:
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise PipelineError(f"{path} has no column {missing[0]!r} (named by {key}); "
                            f"its columns are {list(frame.columns)}")


def _as_numbers(column: pd.Series) -> pd.Series:
    if isinstance(column.dtype, pd.CategoricalDtype):  # each value parsed once
        numbers = pd.to_numeric(pd.Series(column.cat.categories, dtype=object), errors="coerce").to_numpy(np.float64)
        numbers = np.append(numbers, np.nan)  # a gap's code, -1, reads the last
        return pd.Series(numbers[column.cat.codes.to_numpy()], index=column.index, name=column.name)
    return pd.to_numeric(column, errors="coerce")


def _first(column: pd.Series, bad: pd.Series) -> tuple:
    """(row number in the file, 1 for the first data row; the value) of the first bad cell."""
    position = bad.to_numpy().nonzero()[0][0]
    return column.index[position] + 1, column.iloc[position]


def _first_unparseable(column: pd.Series) -> tuple:
    return _first(column, column.notna() & _as_numbers(column).isna())


def _is_boolean(column: pd.Series) -> bool:
    """True/False values (a parquet bool, or a CSV column of True/False with gaps, which pandas keeps as objects)."""
    if pd.api.types.is_bool_dtype(column):
        return True
    present = column.dropna()
    return column.dtype == object and len(present) > 0 and present.map(lambda v: isinstance(v, (bool, np.bool_))).all()


def column_roles(frame: pd.DataFrame, numeric, categorical, path) -> dict:
    """Which feature columns are numeric and which categorical: inferred unless listed in params.

    A column listed as numeric, or inferred categorical although nearly all its values are
    numbers, must parse as numbers entirely: a stray "n/a" or "12,5" stops collect, naming it.
    """
    for key, names in (("collect.table.numeric", numeric), ("collect.table.categorical", categorical)):
        _require_columns(frame, names or [], path, key)
    roles = {"numeric": [], "categorical": []}
    for name in frame.columns:
        column = frame[name]
        if name in (numeric or []):
            if (column.notna() & _as_numbers(column).isna()).any():
                row, value = _first_unparseable(column)
                raise PipelineError(f"{path}: column {name!r} is listed as numeric but {as_written(value)} (row {row}) "
                                    "is not a number: fix the value, or add it to collect.table.missing_values")
            roles["numeric"].append(name)
        elif name in (categorical or []) or _is_boolean(column):
            roles["categorical"].append(name)
        elif pd.api.types.is_numeric_dtype(column):
            roles["numeric"].append(name)
        else:
            present = column.dropna()
            parsed = _as_numbers(present).notna()
            if len(present) and parsed.all():  # text of digits (parquet): a code such as a zip code, or numbers
                raise PipelineError(
                    f"{path}: column {name!r} holds only numbers, stored as text: list it in collect.table.categorical "
                    "if it is a code (a zip code, with its leading zeros), or in collect.table.numeric")
            if len(present) and parsed.mean() >= MOSTLY_NUMBERS:
                row, value = _first_unparseable(column)
                raise PipelineError(
                    f"{path}: column {name!r} holds numbers but {as_written(value)} (row {row}) does not parse: fix the value, "
                    "add it to collect.table.missing_values if it marks a gap, or list the column in "
                    "collect.table.categorical")
            roles["categorical"].append(name)
    return roles


def infer_problem(target: pd.Series) -> str:
    """auto: a numeric target with non-integer values or many distinct values is regression."""
    if not pd.api.types.is_numeric_dtype(target) or pd.api.types.is_bool_dtype(target):
        return "classification"
    values = target.dropna().to_numpy(dtype=np.float64)
    if (values != np.round(values)).any() or len(np.unique(values)) > MAX_CLASSES_FOR_AUTO:
        return "regression"
    return "classification"


def encode_target(target: pd.Series, problem: str, path, name: str) -> tuple:
    """(y, class names): integer codes of sorted labels for classification, floats for regression."""
    if problem == "regression":
        numbers = _as_numbers(target)
        if numbers.isna().any():
            row, value = _first_unparseable(target)
            raise PipelineError(f"{path}: regression target {name!r} has {as_written(value)} (row {row}), not a number: "
                                "fix it or set task.problem")
        _require_float32_range(numbers, path, name)
        return numbers.to_numpy(dtype=np.float64), []
    if _is_boolean(target):
        labels = categories(target).to_numpy(dtype=str)
    else:
        labels = target.to_numpy() if pd.api.types.is_numeric_dtype(target) else target.astype(str).to_numpy()
    names, codes = np.unique(labels, return_inverse=True)
    if len(names) < 2:
        raise PipelineError(f"{path}: target column {name!r} has a single class {as_written(names[0])}: "
                            "a classifier needs at least two classes")
    return codes.astype(np.int64), [n.item() if hasattr(n, "item") else n for n in names]


def parse_time(column: pd.Series, path, name: str) -> pd.Series:
    """Times as numbers or datetimes; anything that is not a time stops collect, naming the value."""
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column):
        parsed = column
    else:
        parsed = pd.to_datetime(column, errors="coerce", format="mixed")
    bad = parsed.isna()
    if bad.any():
        row, value = _first(column, bad)
        raise PipelineError(f"{path}: time column {name!r} has {as_written(value)} (row {row}), which is not a time: "
                            "use ISO dates (2024-01-31) or numbers, or set collect.table.time_column: null")
    return parsed


def _require_float32_range(numbers: pd.Series, path, name: str) -> None:
    """Infinity, or a number too large for float32 (1e400 reads as infinity), stops collect naming the cell."""
    bad = numbers.abs() > FLOAT32_MAX  # False for NaN
    if bad.any():
        row, value = _first(numbers, bad)
        raise PipelineError(f"{path}: column {name!r} has {value} (row {row}), infinite or beyond float32's "
                            f"±{FLOAT32_MAX:.1e}: fix the value, or empty the cell if it is unknown")


def categories(column: pd.Series) -> pd.Series:
    """A categorical column as a pandas categorical of strings (gaps stay missing): a small code per row and
    each value once; True/False become "true"/"false"."""
    if _is_boolean(column):
        column = column.map({True: "true", False: "false"})
    codes, uniques = pd.factorize(column)
    as_strings = pd.Series(uniques).astype("string")  # as pandas writes them (a date without its time of day)
    names, position = np.unique(np.array([str(value) for value in as_strings], dtype=object), return_inverse=True)
    codes = np.append(position.reshape(-1), -1)[codes]  # a gap's code, -1, reads the last: still a gap
    return pd.Series(pd.Categorical.from_codes(codes, categories=names), index=column.index, name=column.name)


def _looks_like_dates(counts: pd.Series) -> bool:
    """Whether most rows hold dates; `counts`: each present value and its number of rows."""
    text, rows = pd.Series(counts.index.astype(str)), counts.to_numpy()
    matching = text.str.contains(DATE).to_numpy()
    if rows[matching].sum() < MOSTLY_DATES * rows.sum():
        return False
    parsed = pd.to_datetime(text[matching], errors="coerce", format="mixed").notna().to_numpy()
    return rows[matching][parsed].sum() >= MOSTLY_DATES * rows.sum()


def _exclusion_reason(column: pd.Series, numeric: bool):
    """Why a column cannot be a feature (None: it can): a constant, dates, an id or free text."""
    present = column.dropna()
    counts = present.value_counts(sort=False)  # one pass over the rows, shared by every rule below
    counts = counts[counts > 0]  # a categorical's unused categories
    distinct = len(counts)
    if distinct + (len(present) < len(column)) == 1:  # one value and no gaps (or only gaps)
        return "constant: the same value in every row"
    if numeric:
        if distinct < len(column) or distinct < MIN_DISTINCT_FOR_ID:
            return None
        values = np.sort(present.to_numpy(dtype=np.float64))
        if (values != np.round(values)).any():
            return None
        steps = np.diff(values)
        # A row counter: distinct integers evenly spaced (a few rows dropped leave a few wider steps).
        if steps.mean() <= 1.1 * steps.min():
            return "an identifier: distinct integers stepping like a row counter"
        return None
    if _is_boolean(column):
        return None
    if _looks_like_dates(counts):
        return ("dates: name it in collect.table.time_column for a time-ordered split, or derive numeric "
                "features (year, month, weekday) from it")
    seen_once = int((counts == 1).sum())  # rows whose value no other row has
    if distinct >= MIN_DISTINCT_FOR_ID and seen_once >= FREE_TEXT_UNIQUE_SHARE * len(present):
        return f"free text or an identifier: {distinct} distinct values in {len(present)} rows"
    return None


def columns_to_exclude(features: pd.DataFrame, roles: dict, named: list) -> dict:
    """collect.table.exclude: auto. {column: why} for the columns that cannot be features; a column
    named in collect.table.numeric or categorical is kept."""
    reasons = {}
    for name in roles["numeric"] + roles["categorical"]:
        reason = None if name in named else _exclusion_reason(features[name], name in roles["numeric"])
        if reason:
            reasons[name] = reason
    return reasons


def exclusion_notice(excluded: dict) -> str:
    """One line saying which columns were left out of the features and why, and how to choose otherwise."""
    listed = "; ".join(f"{name!r} ({why})" for name, why in excluded.items())
    return (f"collect: left {len(excluded)} column(s) out of the features: {listed}; to choose, set "
            "collect.table.exclude (a list of columns, [] keeps all) or name a column in collect.table.numeric/categorical")


def _drop_unlabelled(frame: pd.DataFrame, target: str, path) -> tuple:
    # The index stays the row's position in the file, so that errors can name it.
    labelled = frame[frame[target].notna()]
    if labelled.empty:
        raise PipelineError(f"{path}: target column {target!r} is empty in every row: fill it in")
    return labelled, len(frame) - len(labelled)


def _drop_empty_texts(frame: pd.DataFrame, text: str, path) -> tuple:
    """Rows whose text is missing or only whitespace carry nothing to learn from: (the rest, how many dropped)."""
    empty = frame[text].isna() | frame[text].astype(str).str.strip().eq("")
    if empty.all():
        raise PipelineError(f"{path}: text column {text!r} is empty in every labelled row: fill it in")
    return frame[~empty], int(empty.sum())


def load_table(source, problem: str) -> tuple:
    """(x frame of feature and time columns, y, details for the manifest) from collect.table."""
    path = source.path
    frame = read_table_file(path, source.missing_values)
    _require_columns(frame, [source.target], path, "collect.table.target")
    if source.time_column:
        _require_columns(frame, [source.time_column], path, "collect.table.time_column")
    listed = source.exclude if isinstance(source.exclude, list) else []
    _require_columns(frame, listed, path, "collect.table.exclude")
    frame, unlabelled = _drop_unlabelled(frame, source.target, path)
    frame = frame.drop(columns=listed)
    empty = [name for name in frame.columns if frame[name].isna().all()]
    if empty:
        raise PipelineError(f"{path}: column {empty[0]!r} is entirely missing: drop it from the file, "
                            "or name it in collect.table.exclude")
    features = frame.drop(columns=[source.target] + ([source.time_column] if source.time_column else []))
    if features.empty:
        raise PipelineError(f"{path} has no feature columns besides the target: add some")
    roles = column_roles(features, source.numeric, source.categorical, path)
    excluded = dict.fromkeys(listed, "named in collect.table.exclude")
    if source.exclude == "auto":
        excluded = columns_to_exclude(features, roles, (source.numeric or []) + (source.categorical or []))
        roles = {role: [name for name in names if name not in excluded] for role, names in roles.items()}
        if not roles["numeric"] + roles["categorical"]:
            raise PipelineError(f"{path}: every feature column was excluded ({', '.join(excluded)}): name the "
                                "columns to use in collect.table.numeric or categorical, or set collect.table.exclude")
    x = features[roles["numeric"] + roles["categorical"]]  # copy-on-write: no copy of the table
    for name in roles["numeric"]:
        if x[name].dtype != np.float64:  # a float64 column is kept as it is, not copied
            x[name] = _as_numbers(x[name]).astype(np.float64)
        _require_float32_range(x[name], path, name)
    for name in roles["categorical"]:
        x[name] = categories(x[name])
    if source.time_column:
        x[source.time_column] = parse_time(frame[source.time_column], path, source.time_column)
    problem = infer_problem(frame[source.target]) if problem == "auto" else problem
    y, class_names = encode_target(frame[source.target], problem, path, source.target)
    return x.reset_index(drop=True), y, {
        "problem": problem, "file": str(path), "file_sha256": sha256_of_file(path), "target": source.target,
        "time_column": source.time_column, "columns": roles, "class_names": class_names, "rows_without_target_dropped": unlabelled,
        "excluded": excluded,
    }


def _read_text_folder(folder: Path, classes) -> pd.DataFrame:
    """One row per .txt file of each class sub-folder; aclImdb's train/ and test/ are pooled."""
    parts = [folder / name for name in ("train", "test") if (folder / name).is_dir()] or [folder]
    found = sorted({d.name for part in parts for d in part.iterdir() if d.is_dir() and any(d.glob("*.txt"))})
    wanted = classes if classes is not None else found
    absent = [name for name in wanted if name not in found]
    if absent or not wanted:
        raise PipelineError(f"{folder} has no class folder of .txt files named {absent[0] if absent else ''!r}; "
                            f"found {found}: fix collect.text.classes or the folder")
    rows = [(file.read_text(encoding="utf-8", errors="replace"), name)
            for part in parts for name in wanted for file in sorted((part / name).glob("*.txt"))]
    return pd.DataFrame(rows, columns=["text", "label"])


def load_text(source, problem: str) -> tuple:
    """(x array of strings, y, details for the manifest) from collect.text."""
    path = Path(source.path)
    if path.is_dir():
        frame, text, label = _read_text_folder(path, source.classes), "text", "label"
    else:
        frame, text, label = read_table_file(path), source.text_column, source.label_column
        _require_columns(frame, [text], path, "collect.text.text_column")
        _require_columns(frame, [label], path, "collect.text.label_column")
    frame, unlabelled = _drop_unlabelled(frame, label, path)
    if problem == "regression":
        raise PipelineError("task.problem=regression is not supported for text: use classification or auto")
    frame, empty = _drop_empty_texts(frame, text, path)
    y, class_names = encode_target(frame[label], "classification", path, label)
    x = frame[text].astype(str).to_numpy(dtype=object)
    return x, y, {"problem": "classification", "file": str(path),
                  "file_sha256": None if path.is_dir() else sha256_of_file(path), "target": label, "time_column": None,
                  "columns": {"text": text}, "class_names": class_names, "rows_without_target_dropped": unlabelled,
                  "empty_texts_dropped": empty}
