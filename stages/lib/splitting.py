"""Evaluation protocols: hold out a test split, then holdout / K-fold / iterated K-fold folds,
shuffled and stratified, or ordered by time when the data has a time column."""
from pathlib import Path
from typing import Optional

import numpy as np

from stages.lib import paths
from stages.lib.errors import PipelineError, as_written
from stages.lib.io import atomic_dir, read_json, read_npz, write_json, write_npz
from stages.lib.params import SplitParams


def resolve_protocol(params: SplitParams, n_examples: int, time_ordered: bool) -> str:
    """The protocol to use: auto picks iterated K-fold for small datasets (K-fold when time-ordered:
    shuffled repeats would break the arrow of time), holdout otherwise."""
    protocol = params.protocol
    if protocol == "auto":
        small = n_examples < params.small_dataset_rows
        protocol = ("kfold" if time_ordered else "iterated_kfold") if small else "holdout"
    if protocol == "iterated_kfold" and time_ordered:
        raise PipelineError("split.protocol=iterated_kfold shuffles, which breaks the arrow of time of "
                            "collect.table.time_column: use holdout or kfold")
    if protocol == "iterated_kfold" and not params.shuffle:
        raise PipelineError("split.protocol=iterated_kfold needs split.shuffle=true: repeats differ only by shuffling")
    return protocol


def _holdout(indices, y, fraction, shuffle, seed, stratify):
    """Split `indices` in two, stratified when shuffled (an unshuffled split keeps the order)."""
    from sklearn.model_selection import train_test_split

    try:
        first, second = train_test_split(
            indices,
            test_size=fraction,
            shuffle=shuffle,
            stratify=y[indices] if (shuffle and stratify) else None,
            random_state=seed if shuffle else None,
        )
    except ValueError as error:
        raise PipelineError(f"cannot split {len(indices)} examples with fraction {fraction}: {error}") from None
    return np.sort(first), np.sort(second)


def _fold_splitter(protocol: str, params: SplitParams, seed: int, stratify: bool):
    from sklearn.model_selection import KFold, RepeatedKFold, RepeatedStratifiedKFold, StratifiedKFold

    if protocol == "iterated_kfold":
        kind = RepeatedStratifiedKFold if stratify else RepeatedKFold
        return kind(n_splits=params.folds, n_repeats=params.repeats, random_state=seed)
    if params.shuffle:
        kind = StratifiedKFold if stratify else KFold
        return kind(n_splits=params.folds, shuffle=True, random_state=seed)
    return KFold(n_splits=params.folds, shuffle=False)


def _parts_in_order(groups: np.ndarray, n_parts: int) -> np.ndarray:
    """A part number per example: the groups in the order of their first example, cut into n_parts runs of about
    equal numbers of examples."""
    _, first, inverse, sizes = np.unique(groups, return_index=True, return_inverse=True, return_counts=True)
    order = np.argsort(first, kind="stable")
    starts = np.empty(len(order), dtype=np.int64)
    starts[order] = np.cumsum(sizes[order]) - sizes[order]
    return (starts * n_parts // len(groups))[inverse]


def _grouped_parts(indices, y, groups, n_parts: int, shuffle: bool, seed, stratify: bool) -> np.ndarray:
    """A part number (0 .. n_parts-1) per index, every group whole in one part: stratified by scikit-learn's
    StratifiedGroupKFold when shuffled, in the order of the data otherwise."""
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

    n_distinct = np.count_nonzero(np.bincount(groups[indices]))  # np.unique of 10M ints: 14 s
    too_few = PipelineError(f"{n_distinct} distinct examples among {len(indices)} are too few to cut into {n_parts} "
                            "parts that keep repeats together: bring more data, lower split.folds, or set "
                            "collect.deduplicate: true")
    if n_distinct < n_parts:
        raise too_few
    if not shuffle:
        part = _parts_in_order(groups[indices], n_parts)
    else:
        splitter = (StratifiedGroupKFold if stratify else GroupKFold)(n_splits=n_parts, shuffle=True,
                                                                      random_state=seed)
        try:
            folds = list(splitter.split(indices.reshape(-1, 1), y[indices], groups[indices]))
        except ValueError as error:
            raise PipelineError(f"cannot split {len(indices)} examples into {n_parts} parts of whole repeats: "
                                f"{error}") from None
        part = np.empty(len(indices), dtype=np.int64)
        for number, (_, members) in enumerate(folds):
            part[members] = number
    if len(np.unique(part)) < n_parts:  # a few groups of very different sizes
        raise too_few
    return part


def _grouped_holdout(indices, y, groups, fraction, shuffle, seed, stratify):
    """_holdout keeping identical examples (one group) together: the held-out part is one of round(1 / fraction)
    group-respecting parts (the last one when unshuffled, as _holdout takes the end)."""
    n_parts = max(2, int(round(1 / fraction)))
    part = _grouped_parts(indices, y, groups, n_parts, shuffle, seed, stratify)
    held = n_parts - 1 if not shuffle else 0
    return np.sort(indices[part != held]), np.sort(indices[part == held])


def _grouped_folds(development, y, groups, protocol, params: SplitParams, seed, stratify) -> list:
    """K-fold or iterated K-fold over `development`, every group of identical examples in one fold."""
    rng = np.random.RandomState(seed)  # as RepeatedStratifiedKFold draws each repeat's seed
    repeats = params.repeats if protocol == "iterated_kfold" else 1
    folds = []
    for _ in range(repeats):
        part = _grouped_parts(development, y, groups, params.folds, params.shuffle,
                                rng.randint(np.iinfo(np.int32).max) if protocol == "iterated_kfold" else seed,
                                stratify)
        folds += [(development[part != k], development[part == k]) for k in range(params.folds)]
    return folds


def _time_ordered(time: np.ndarray, protocol: str, params: SplitParams):
    """(development, test, folds) cut at distinct times, so equal timestamps never straddle two splits."""
    from sklearn.model_selection import TimeSeriesSplit

    moments, rank = np.unique(time, return_inverse=True)
    rows_at = lambda ranks: np.sort(np.flatnonzero(np.isin(rank, ranks)))  # noqa: E731
    n_test = max(1, int(round(params.test_fraction * len(moments))))
    if len(moments) - n_test < 2:
        raise PipelineError(f"the time column has {len(moments)} distinct times: too few for a time-ordered split")
    development_ranks = np.arange(len(moments) - n_test)
    test = rows_at(np.arange(len(moments) - n_test, len(moments)))
    if protocol == "holdout":
        fraction = params.validation_fraction / (1 - params.test_fraction)
        n_validation = max(1, int(round(fraction * len(development_ranks))))
        cuts = [(development_ranks[:-n_validation], development_ranks[-n_validation:])]
    else:
        try:
            cuts = list(TimeSeriesSplit(n_splits=params.folds).split(development_ranks))
        except ValueError as error:
            raise PipelineError(f"cannot make {params.folds} time-ordered folds: {error}") from None
    return rows_at(development_ranks), test, [(rows_at(t), rows_at(v)) for t, v in cuts]


def make_split(y: np.ndarray, params: SplitParams, seed: int, time: Optional[np.ndarray] = None,
               stratify: bool = True, groups: Optional[np.ndarray] = None) -> dict:
    """Indices of the test split and of each (train, validation) fold of the rest.

    The test split is held out first and never enters a fold. Holdout yields one fold.
    With `time`, the test split is the latest and each fold validates on times after its
    training data (no shuffling); `stratify` is off for regression targets. `groups` (a label per
    example, equal for identical examples) keeps each group in one split and one fold; a time-ordered
    split does so anyway (identical rows share their time).
    """
    protocol = resolve_protocol(params, len(y), time is not None)
    if time is not None:
        development, test, folds = _time_ordered(np.asarray(time), protocol, params)
    elif groups is not None:
        development, test = _grouped_holdout(np.arange(len(y)), y, groups, params.test_fraction, params.shuffle, seed,
                                             stratify)
        if protocol == "holdout":
            fraction = params.validation_fraction / (1 - params.test_fraction)
            folds = [_grouped_holdout(development, y, groups, fraction, params.shuffle, seed, stratify)]
        else:
            folds = _grouped_folds(development, y, groups, protocol, params, seed, stratify)
    else:
        everything = np.arange(len(y))
        development, test = _holdout(everything, y, params.test_fraction, params.shuffle, seed, stratify)
        if protocol == "holdout":
            fraction = params.validation_fraction / (1 - params.test_fraction)
            folds = [_holdout(development, y, fraction, params.shuffle, seed, stratify)]
        else:
            splitter = _fold_splitter(protocol, params, seed, stratify)
            try:
                folds = [
                    (development[t], development[v])
                    for t, v in splitter.split(development.reshape(-1, 1), y[development])
                ]
            except ValueError as error:
                raise PipelineError(f"cannot make {params.folds} folds: {error}") from None
    return {
        "protocol": protocol,
        "shuffle": params.shuffle and time is None,
        "time_ordered": time is not None,
        "test": np.sort(test),
        "development": np.sort(development),
        "folds": [{"train": np.sort(t), "validation": np.sort(v)} for t, v in folds],
    }


def write_split(split: dict, root=".") -> None:
    """A split as data/split/split.json (the protocol and each part's size, to read) and indices.npz (each part's
    row numbers, 8 bytes each before compression, where JSON took a Python object per row to write and to read)."""
    sizes = {"test": len(split["test"]), "development": len(split["development"]),
             "folds": [{name: len(fold[name]) for name in ("train", "validation")} for fold in split["folds"]]}
    arrays = {"test": split["test"], "development": split["development"]}
    for number, fold in enumerate(split["folds"]):
        arrays.update({f"fold{number}_{name}": fold[name] for name in ("train", "validation")})
    with atomic_dir(Path(root) / paths.SPLIT_DIR) as folder:
        write_json(folder / Path(paths.SPLIT).name,
                   {**{k: v for k, v in split.items() if k not in arrays and k != "folds"}, "examples": sizes})
        write_npz(folder / Path(paths.SPLIT_INDICES).name, compress=True,
                  **{name: np.asarray(indices, dtype=np.int64) for name, indices in arrays.items()})


def read_split(root=".") -> dict:
    """The split write_split wrote: its protocol, and each part's row numbers as an int64 array."""
    split = read_json(Path(root) / paths.SPLIT)
    sizes = split.pop("examples", None)
    if sizes is None:  # a split.json of row numbers, as versions before indices.npz wrote it
        raise PipelineError(f"{paths.SPLIT_DIR} does not hold a split as this version writes it: rebuild it with "
                            "`dvc repro split`")
    arrays = read_npz(Path(root) / paths.SPLIT_INDICES, None)
    return {**split, "test": arrays["test"], "development": arrays["development"],
            "folds": [{name: arrays[f"fold{k}_{name}"] for name in ("train", "validation")}
                      for k in range(len(sizes["folds"]))]}


def distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted: by sorting, which holds less memory than a hash table at 10M rows (and
    np.unique hashes integers: 14 s for 10M)."""
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values


def repeat_groups(hashes: np.ndarray) -> Optional[np.ndarray]:
    """A group number per example, equal for equal content hashes; None when every example is distinct."""
    unique, groups = np.unique(hashes, return_inverse=True)
    return None if len(unique) == len(hashes) else groups


def _judged_parts(split: dict, minimum: int) -> list:
    """(where, indices, fewest examples of each class it needs): the test split and a hold-out validation split need
    `minimum`; cross-validation needs it of its validation splits together, and one in every training and validation
    split."""
    folds = split["folds"]
    parts = [("the test split", split["test"], minimum)]
    if len(folds) == 1:
        return parts + [("the validation split", folds[0]["validation"], minimum),
                        ("the training split", folds[0]["train"], 1)]
    together = np.flatnonzero(np.bincount(np.concatenate([fold["validation"] for fold in folds])))
    parts.append(("the validation splits together", together, minimum))
    for k, fold in enumerate(folds):
        parts += [(f"validation split {k}", fold["validation"], 1), (f"training split {k}", fold["train"], 1)]
    return parts


def too_few_to_judge(y: np.ndarray, split: dict, classification: bool, minimum: int, class_names=None):
    """Why no model could be judged on this split (None when it can): a class with fewer than `minimum` examples
    in the test split or in validation (_judged_parts), or, for regression, a test or validation split whose targets
    are all equal (R² and every comparison with the mean need at least two values)."""
    y = np.asarray(y)
    parts = _judged_parts(split, minimum)
    if not classification:
        for where, indices, _ in parts:
            if not where.startswith("training") and len(np.unique(y[indices])) < 2:
                return (f"{where} holds {len(indices)} example(s) with a single target value: too few to score a "
                        "regression; bring more data, or raise split.test_fraction / lower split.folds")
        return None
    classes, totals = np.unique(y, return_counts=True)
    for where, indices, needed in parts:
        counts = dict(zip(*np.unique(y[indices], return_counts=True)))
        for label, total in zip(classes, totals):
            if counts.get(label, 0) < needed:
                name = as_written(class_names[label] if class_names else label)
                fix = ("raise split.test_fraction" if where == "the test split" else
                       "give validation more: raise split.validation_fraction (holdout) or lower split.folds")
                return (f"class {name} has {total} example(s), {counts.get(label, 0)} of them in {where}, which needs "
                        f"at least {needed} (split.min_class_examples={minimum}): too few to judge a model on; bring "
                        f"more examples of it (about {int(np.ceil(needed * len(y) / len(indices)))} in all), or {fix}")
    return None


def split_members(split: dict) -> list:
    """(fold, split name, indices) for every split in a split file: test once, then each fold."""
    members = [(None, "test", np.asarray(split["test"], dtype=np.int64))]
    for number, fold in enumerate(split["folds"]):
        for name in ("train", "validation"):
            members.append((number, name, np.asarray(fold[name], dtype=np.int64)))
    return members


def check_split_file(split: dict, n_examples: int) -> None:
    """Refuse a split file whose structure or indices cannot belong to the raw data."""
    if not isinstance(split, dict) or not {"test", "development"} <= set(split) or not split.get("folds"):
        raise PipelineError("the split file needs 'test', 'development' and a non-empty 'folds' list: "
                            "rebuild it with `dvc repro split`")
    for fold, name, indices in split_members(split) + [(None, "development", np.asarray(split["development"]))]:
        where = name if fold is None else f"fold {fold} {name}"
        if len(indices) == 0:
            raise PipelineError(f"split '{where}' is empty: lower the fractions or the fold count in params.yaml split")
        if indices.min() < 0 or indices.max() >= n_examples:
            raise PipelineError(f"split '{where}' has indices outside 0..{n_examples - 1}: rebuild it with `dvc repro split`")


def training_and_compared(split: dict) -> list:
    """(fold, split name, training indices, compared indices): each fold's validation, and test against development."""
    pairs = [(str(k), "validation", np.asarray(f["train"]), np.asarray(f["validation"])) for k, f in enumerate(split["folds"])]
    return pairs + [("final", "test", np.asarray(split["development"]), np.asarray(split["test"]))]


# ---- samples (studies.<dataset>.max_examples, validate.leakage_max_rows) ---------------------

def can_stratify(y: np.ndarray, size: int) -> bool:
    """Whether a stratified sample of `size` of the labels `y` exists: every class has two examples or more and
    the sample and the rest each have room for one of every class (scikit-learn's conditions)."""
    counts = np.unique(y, return_counts=True)[1]
    return bool(counts.min() >= 2 and len(counts) <= size and len(counts) <= len(y) - size)


def sample_indices(y: np.ndarray, size: int, seed: int, stratify: bool) -> tuple:
    """(sorted indices of a seeded sample of `size` of the examples, whether it is stratified); every index when
    `size` covers them all. `stratify` (classification) keeps the class proportions when can_stratify, else the
    sample is plain random: a class too rare to stratify does not stop the studies."""
    from sklearn.model_selection import train_test_split

    y = np.asarray(y)
    if size >= len(y):
        return np.arange(len(y)), stratify
    stratified = stratify and can_stratify(y, size)
    kept, _ = train_test_split(np.arange(len(y)), train_size=size, random_state=seed,
                               stratify=y if stratified else None)
    return np.sort(kept), stratified
