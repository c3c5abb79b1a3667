"""What a validation check is, and the hint each failed expectation carries (validate runs the checks;
each data kind builds its own schema checks from these)."""
from dataclasses import dataclass, field

import pandas as pd


@dataclass
class Check:
    """A derived frame, the expectations it must meet, and the columns that name a bad row."""

    name: str
    frame: pd.DataFrame
    expectations: list = field(default_factory=list)
    index_columns: list = field(default_factory=list)


# What to do when an expectation fails, stored as its GX `notes` (Data Docs show them): each names the
# params key that relaxes the check, or says that none does.
FIX_COLLECT = "rebuild the raw data with `dvc repro collect` (no params key relaxes this)"
HINTS = {
    "empty_column": "a column without values: drop it or exclude it with collect.table.exclude",
    "role": "a column whose values do not fit its role: set it in collect.table.numeric or collect.table.categorical",
    "empty_text": "an empty text: remove it from the file in collect.text.path (no params key relaxes this)",
    "images": f"the images differ from the published dataset: {FIX_COLLECT}",
    "sequences": f"the token sequences differ from what collect writes: {FIX_COLLECT}",
    "token_range": "token ids outside 0..collect.imdb.num_words - 1: the raw data was encoded with other collect.imdb "
                   "settings; rebuild it with `dvc repro collect`",
    "labels": f"the labels differ from the dataset's classes: {FIX_COLLECT}",
    "finite_target": "a regression target that is not a finite number: fix or remove that row in collect.table.path "
                     "(no params key relaxes this)",
    "class_count": "a class is absent from a split: keep split.shuffle: true (stratified splits), use fewer "
                   "split.folds or a larger split.test_fraction",
    "class_gap": "a split's class proportions differ from the whole's: keep split.shuffle: true (stratified splits) "
                 "or raise validate.max_class_proportion_gap",
    "class_count_time": "a class is absent from a split: a time-ordered split cannot be stratified; use fewer "
                        "split.folds or a larger split.test_fraction, or set collect.table.time_column: null if the "
                        "order does not matter",
    "class_gap_time": "a split's class proportions differ from the whole's: a time-ordered split cannot be stratified "
                      "and the classes' shares change over time; raise validate.max_class_proportion_gap, or set "
                      "collect.table.time_column: null if the order does not matter",
    "leakage": "the same example sits in two splits: rebuild the split with `dvc repro split`, which keeps "
               "repeats together, or set collect.deduplicate: true so that they are dropped",
    "arrow_of_time": "validation or test data come before training data: rebuild the split with `dvc repro split`, "
                     "or set collect.table.time_column: null if the order does not matter",
    "target_leakage": "a column that alone predicts the target is likely derived from it: exclude it with "
                      "collect.table.exclude, or raise validate.max_single_feature_score if it is legitimate",
    "drift": "the feature's distribution differs from training: raise validate.max_js_divergence, or set "
             "validate.drift: report to report drift without failing",
    "drift_reported": "reported, not enforced: a time-ordered split compares the past with the future; set "
                      "validate.drift: fail to enforce validate.max_js_divergence",
    "time_index": "the column counts up with time by a fixed step (a row id or counter), so it only encodes the time "
                  "order and a model would extrapolate it into the future: drop it, or exclude it with "
                  "collect.table.exclude (or set validate.time_index: report)",
    "time_index_reported": "reported, not enforced (validate.time_index: report): the column only encodes the time "
                           "order; drop it, or exclude it with collect.table.exclude",
    "out_of_range": "values outside the training range, where a model extrapolates: raise "
                    "validate.max_out_of_range_share, or set it to null to report the shares without failing",
    "out_of_range_reported": "reported, not enforced: values outside the training range, where a model extrapolates; "
                             "set validate.max_out_of_range_share to fail above a share",
}
