"""Evaluation protocols: hold out a test split, then holdout / K-fold / iterated K-fold folds,
shuffled and stratified, or ordered by time when the data has a time column."""
from typing import Optional

import numpy as np
from sklearn.model_selection import (
    KFold,
    RepeatedKFold,
    RepeatedStratifiedKFold,
    StratifiedKFold,
    TimeSeriesSplit,
    train_test_split,
)

from stages.lib.errors import PipelineError
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
    if protocol == "iterated_kfold":
        kind = RepeatedStratifiedKFold if stratify else RepeatedKFold
        return kind(n_splits=params.folds, n_repeats=params.repeats, random_state=seed)
    if params.shuffle:
        kind = StratifiedKFold if stratify else KFold
        return kind(n_splits=params.folds, shuffle=True, random_state=seed)
    return KFold(n_splits=params.folds, shuffle=False)


def _time_ordered(time: np.ndarray, protocol: str, params: SplitParams):
    """(development, test, folds) cut at distinct times, so equal timestamps never straddle two splits."""
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
               stratify: bool = True) -> dict:
    """Indices of the test split and of each (train, validation) fold of the rest.

    The test split is held out first and never enters a fold. Holdout yields one fold.
    With `time`, the test split is the latest and each fold validates on times after its
    training data (no shuffling); `stratify` is off for regression targets.
    """
    protocol = resolve_protocol(params, len(y), time is not None)
    if time is not None:
        development, test, folds = _time_ordered(np.asarray(time), protocol, params)
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
        "test": np.sort(test).tolist(),
        "development": np.sort(development).tolist(),
        "folds": [{"train": np.sort(t).tolist(), "validation": np.sort(v).tolist()} for t, v in folds],
    }


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
