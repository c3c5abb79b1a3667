import numpy as np
import pytest

from stages.lib.errors import PipelineError
from stages.lib.params import SplitParams
from stages.lib import splitting
from stages.lib.splitting import check_split_file, read_split, repeat_groups, split_members, too_few_to_judge, write_split


def params(**changes):
    base = dict(protocol="holdout", small_dataset_rows=100, shuffle=True, test_fraction=0.2, validation_fraction=0.2,
                folds=5, repeats=3, min_class_examples=5)
    return SplitParams(**{**base, **changes})


Y = np.repeat(np.arange(10), 50)


def as_lists(split: dict) -> dict:
    return {**split, "test": split["test"].tolist(), "development": split["development"].tolist(),
            "folds": [{name: fold[name].tolist() for name in ("train", "validation")} for fold in split["folds"]]}


def make_split(*args, **kwargs) -> dict:
    """make_split's row numbers (int64 arrays) as lists, so that splits compare whole."""
    split = splitting.make_split(*args, **kwargs)
    assert all(indices.dtype == np.int64 for _, _, indices in split_members(split))
    return as_lists(split)


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


def passengers(n=1309, seed=0):
    """Few coarse columns, as a passenger list of sex, class and age band: most rows repeat an earlier one."""
    rng = np.random.default_rng(seed)
    content = rng.integers(0, 40, n)  # 40 distinct (sex, class, age band) rows
    survived = (rng.random(n) < np.where(content % 2 == 0, 0.75, 0.2)).astype(int)
    return content, survived


def assert_groups_whole(split, content):
    """No content sits in two of: test, and each fold's train and validation."""
    assert not set(content[split["test"]]) & set(content[split["development"]])
    for fold in split["folds"]:
        assert not set(content[fold["train"]]) & set(content[fold["validation"]])


@pytest.mark.parametrize("protocol, shuffle, folds", [("holdout", True, 1), ("holdout", False, 1), ("kfold", True, 5),
                                                      ("kfold", False, 5), ("iterated_kfold", True, 15)])
def test_identical_examples_stay_in_one_split_in_every_protocol(protocol, shuffle, folds):
    content, survived = passengers()
    groups = repeat_groups(content.astype(str))
    split = make_split(survived, params(protocol=protocol, shuffle=shuffle), seed=3, groups=groups)
    assert len(split["folds"]) == folds
    assert_partition(split, len(survived))
    assert_groups_whole(split, content)
    assert 0.1 < len(split["test"]) / len(survived) < 0.3  # about test_fraction, in whole groups
    if shuffle:  # stratified: the test split's survival rate near the whole's
        assert abs(survived[split["test"]].mean() - survived.mean()) < 0.08
        assert make_split(survived, params(protocol=protocol), seed=3, groups=groups) == split


def test_an_unshuffled_grouped_split_keeps_the_order_of_first_appearance():
    content = np.repeat(np.arange(100), 5)  # each row five times in a row, in order
    split = make_split(np.tile([0, 1], 250), params(shuffle=False), seed=0, groups=repeat_groups(content))
    assert split["test"] == list(range(400, 500)) and split["folds"][0]["validation"] == list(range(300, 400))


def test_distinct_examples_make_no_groups_and_the_split_of_before():
    assert repeat_groups(np.array(["a", "b", "c"])) is None
    assert repeat_groups(np.array(["a", "b", "a"])).tolist() == [0, 1, 0]


def test_too_few_distinct_examples_for_the_folds_are_named():
    content = np.repeat([0, 1, 2], 30)
    with pytest.raises(PipelineError, match="3 distinct examples among .* too few to cut into 5 parts"):
        make_split(np.tile([0, 1], 45), params(protocol="kfold"), seed=0, groups=repeat_groups(content))


def test_a_class_too_rare_to_judge_is_named_with_its_count_and_a_way_out():
    y = np.zeros(2000, dtype=int)
    y[np.arange(6) * 300] = 1  # 6 positives in 2,000 rows: one lands in the test split
    split = make_split(y, params(), seed=0)
    message = too_few_to_judge(y, split, True, 5, ["no", "yes"])
    assert message.startswith("class 'yes' has 6 example(s), 1 of them in the test split, which needs at least 5 "
                              "(split.min_class_examples=5): too few to judge a model on")
    assert "bring more examples of it (about 25 in all), or raise split.test_fraction" in message
    assert too_few_to_judge(y, split, True, 1, None) is None
    many = np.tile([0, 1], 500)
    assert too_few_to_judge(many, make_split(many, params(protocol="kfold"), seed=0), True, 5) is None


def test_cross_validation_needs_the_minimum_over_its_validation_splits_and_one_in_each():
    y = np.zeros(400, dtype=int)
    y[:40] = 1  # 8 positives in test, 32 in development: about 6 per validation split of 5 folds
    split = make_split(y, params(protocol="kfold"), seed=0)
    assert too_few_to_judge(y, split, True, 8, None) is None
    message = too_few_to_judge(y, split, True, 40, None)
    assert "8 of them in the test split" in message
    split["test"] = split["test"][:-20]  # keep test's positives, then take one fold's
    fold = split["folds"][2]
    fold["validation"] = [i for i in fold["validation"] if y[i] == 0]
    message = too_few_to_judge(y, split, True, 8, None)
    assert "0 of them in validation split 2, which needs at least 1" in message and "lower split.folds" in message


def test_a_regression_split_with_one_target_value_cannot_be_scored():
    y = np.r_[np.zeros(80), np.linspace(1, 2, 20)]
    split = make_split(y, params(shuffle=False), seed=0, stratify=False)
    assert too_few_to_judge(y, split, False, 5).startswith("the validation split holds 20 example(s) with a "
                                                         "single target value")
    assert too_few_to_judge(np.linspace(0, 1, 100), split, False, 5) is None


def test_a_split_is_written_as_sizes_to_read_and_row_numbers_in_an_npz(tmp_path):
    import json

    from stages.lib import paths

    split = splitting.make_split(Y, params(protocol="kfold"), seed=0)
    write_split(split, tmp_path)
    written = json.loads((tmp_path / paths.SPLIT).read_text())
    assert written["protocol"] == "kfold" and "test" not in written and "folds" not in written
    assert written["examples"]["test"] == 100 and written["examples"]["folds"][0] == {"train": 320, "validation": 80}
    assert as_lists(read_split(tmp_path)) == as_lists(split)
    (tmp_path / paths.SPLIT_INDICES).unlink()
    with pytest.raises(PipelineError, match="indices.npz is missing"):
        read_split(tmp_path)
    (tmp_path / paths.SPLIT).write_text(json.dumps(as_lists(split)))  # as split.json was before indices.npz
    with pytest.raises(PipelineError, match=r"data/split does not hold a split as this version writes it: rebuild "
                                            r"it with `dvc repro split`"):
        read_split(tmp_path)


def test_distinct_values_are_sorted_once_each():
    values = np.array([5, 3, 5, 9, 3, 3], dtype=np.uint64)
    assert splitting.distinct(values).tolist() == [3, 5, 9] and splitting.distinct(values[:0]).tolist() == []
    assert splitting.distinct(np.array(["b", "a", "b"], dtype=object)).tolist() == ["a", "b"]
