"""Evaluation protocols: hold out a test split, then holdout / K-fold / iterated K-fold folds."""
import numpy as np
from sklearn.model_selection import (
    KFold,
    RepeatedStratifiedKFold,
    StratifiedKFold,
    train_test_split,
)

from stages.lib.errors import PipelineError
from stages.lib.params import SplitParams


def _holdout(indices, y, fraction, shuffle, seed):
    """Split `indices` in two, stratified when shuffled (an unshuffled split keeps the order)."""
    try:
        first, second = train_test_split(
            indices,
            test_size=fraction,
            shuffle=shuffle,
            stratify=y[indices] if shuffle else None,
            random_state=seed if shuffle else None,
        )
    except ValueError as error:
        raise PipelineError(f"cannot split {len(indices)} examples with fraction {fraction}: {error}") from None
    return np.sort(first), np.sort(second)


def _fold_splitter(params: SplitParams, seed: int):
    if params.protocol == "iterated_kfold":
        if not params.shuffle:
            raise PipelineError("split.protocol=iterated_kfold needs split.shuffle=true: repeats differ only by shuffling")
        return RepeatedStratifiedKFold(n_splits=params.folds, n_repeats=params.repeats, random_state=seed)
    if params.shuffle:
        return StratifiedKFold(n_splits=params.folds, shuffle=True, random_state=seed)
    return KFold(n_splits=params.folds, shuffle=False)


def make_split(y: np.ndarray, params: SplitParams, seed: int) -> dict:
    """Indices of the test split and of each (train, validation) fold of the rest.

    The test split is held out first and never enters a fold. Holdout yields one fold.
    """
    everything = np.arange(len(y))
    development, test = _holdout(everything, y, params.test_fraction, params.shuffle, seed)
    if params.protocol == "holdout":
        fraction = params.validation_fraction / (1 - params.test_fraction)
        train, validation = _holdout(development, y, fraction, params.shuffle, seed)
        folds = [(train, validation)]
    else:
        splitter = _fold_splitter(params, seed)
        try:
            folds = [
                (development[t], development[v])
                for t, v in splitter.split(development.reshape(-1, 1), y[development])
            ]
        except ValueError as error:
            raise PipelineError(f"cannot make {params.folds} folds: {error}") from None
    return {
        "protocol": params.protocol,
        "shuffle": params.shuffle,
        "test": test.tolist(),
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
    if not isinstance(split, dict) or "test" not in split or not split.get("folds"):
        raise PipelineError("the split file needs 'test' and a non-empty 'folds' list: rebuild it with `dvc repro split`")
    for fold, name, indices in split_members(split):
        where = name if fold is None else f"fold {fold} {name}"
        if len(indices) == 0:
            raise PipelineError(f"split '{where}' is empty: lower the fractions or the fold count in params.yaml split")
        if indices.min() < 0 or indices.max() >= n_examples:
            raise PipelineError(f"split '{where}' has indices outside 0..{n_examples - 1}: rebuild it with `dvc repro split`")
