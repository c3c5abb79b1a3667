import numpy as np
import pytest

from stages.lib.errors import PipelineError
from stages.lib.params import SplitParams
from stages.lib.splitting import check_split_file, make_split, split_members


def params(**changes):
    base = dict(protocol="holdout", small_dataset_rows=100, shuffle=True, test_fraction=0.2, validation_fraction=0.2,
                folds=5, repeats=3)
    return SplitParams(**{**base, **changes})


Y = np.repeat(np.arange(10), 50)


def assert_partition(split, n):
    assert sorted(split["development"] + split["test"]) == list(range(n))
    for fold in split["folds"]:
        parts = [set(split["test"]), set(fold["train"]), set(fold["validation"])]
        assert sum(map(len, parts)) == n and set().union(*parts) == set(range(n))


def test_holdout_is_stratified_disjoint_and_seeded():
    split = make_split(Y, params(), seed=1)
    assert len(split["folds"]) == 1
    assert_partition(split, len(Y))
    for _, _, indices in split_members(split):
        assert set(np.bincount(Y[indices]).tolist()) == {len(indices) // 10}
    assert make_split(Y, params(), seed=1) == split
    assert make_split(Y, params(), seed=2) != split


@pytest.mark.parametrize("protocol, folds", [("kfold", 5), ("iterated_kfold", 15)])
def test_kfold_protocols(protocol, folds):
    split = make_split(Y, params(protocol=protocol), seed=0)
    assert len(split["folds"]) == folds
    assert_partition(split, len(Y))
    validations = [frozenset(f["validation"]) for f in split["folds"][:5]]
    assert set().union(*validations) == set(range(len(Y))) - set(split["test"])


def test_unshuffled_split_keeps_order():
    split = make_split(Y, params(shuffle=False), seed=0)
    assert split["test"] == list(range(400, 500))
    assert split["folds"][0]["validation"] == list(range(300, 400))
    kfold = make_split(Y, params(protocol="kfold", shuffle=False), seed=0)
    assert kfold["folds"][0]["validation"] == list(range(0, 80))


def test_iterated_kfold_needs_shuffling():
    with pytest.raises(PipelineError, match="needs split.shuffle=true"):
        make_split(Y, params(protocol="iterated_kfold", shuffle=False), seed=0)


def test_too_few_examples_for_stratification():
    with pytest.raises(PipelineError, match="cannot split"):
        make_split(np.array([0, 0, 1, 1, 2, 2]), params(), seed=0)


def test_split_file_checks():
    with pytest.raises(PipelineError, match="needs 'test', 'development'"):
        check_split_file({"folds": []}, 10)
    with pytest.raises(PipelineError, match="outside 0..9"):
        check_split_file({"test": [1, 10], "development": [2, 3], "folds": [{"train": [2], "validation": [3]}]}, 10)
    with pytest.raises(PipelineError, match="'fold 0 validation' is empty"):
        check_split_file({"test": [1], "development": [2], "folds": [{"train": [2], "validation": []}]}, 10)


@pytest.mark.parametrize("rows, protocol, folds", [(500, "holdout", 1), (90, "iterated_kfold", 15)])
def test_auto_protocol_picks_iterated_kfold_for_small_data(rows, protocol, folds):
    split = make_split(np.repeat(np.arange(10), rows // 10), params(protocol="auto"), seed=0)
    assert (split["protocol"], len(split["folds"])) == (protocol, folds)


def test_regression_targets_split_without_stratification():
    y = np.linspace(0.0, 1.0, 100)
    split = make_split(y, params(protocol="kfold"), seed=0, stratify=False)
    assert len(split["folds"]) == 5 and len(split["test"]) == 20
    assert_partition(split, 100)


def test_time_ordered_holdout_validates_and_tests_on_later_times():
    time = np.repeat(np.arange(50), 2)[::-1]  # newest rows first, two rows per time
    split = make_split(np.tile([0, 1], 50), params(), seed=0, time=time)
    assert split["time_ordered"] and not split["shuffle"]
    fold = split["folds"][0]
    assert time[fold["train"]].max() < time[fold["validation"]].min() < time[split["test"]].min()
    assert len(split["test"]) == 20 and len(fold["validation"]) == 20  # whole times, never one row of a pair
    assert_partition(split, 100)


def test_time_ordered_kfold_grows_the_training_window():
    time = np.arange(100)
    split = make_split(np.tile([0, 1], 50), params(protocol="kfold"), seed=0, time=time)
    trains = [len(f["train"]) for f in split["folds"]]
    assert trains == sorted(trains) and len(split["folds"]) == 5
    for fold in split["folds"]:
        assert time[fold["train"]].max() < time[fold["validation"]].min()
    assert max(split["development"]) < min(split["test"])


def test_time_ordered_data_refuses_iterated_kfold_and_auto_picks_kfold():
    with pytest.raises(PipelineError, match="breaks the arrow of time"):
        make_split(np.tile([0, 1], 50), params(protocol="iterated_kfold"), seed=0, time=np.arange(100))
    split = make_split(np.tile([0, 1], 50), params(protocol="auto", small_dataset_rows=1000), seed=0,
                       time=np.arange(100))
    assert split["protocol"] == "kfold"


def test_too_few_distinct_times_for_a_time_ordered_split():
    with pytest.raises(PipelineError, match="the time column has 2 distinct times: too few"):
        make_split(np.tile([0, 1], 5), params(), seed=0, time=np.repeat([1, 2], 5))
