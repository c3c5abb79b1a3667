"""split: the evaluation protocol (holdout, K-fold, iterated K-fold), seeded and stratified, or time-ordered.

Identical examples that collect kept (a table's repeated rows) go to one split and one fold together; a split
that leaves a class too few examples to judge a model on stops here, before any training."""
from stages.lib import paths
from stages.lib.errors import PipelineError, run_stage
from stages.lib.io import read_json
from stages.lib.kinds import example_times, kind_of, read_raw, read_targets
from stages.lib.params import load_params
from stages.lib.splitting import make_split, repeat_groups, too_few_to_judge, write_split


def main() -> None:
    params = load_params()
    raw = read_json(paths.RAW_MANIFEST)
    time_column = raw.get("time_column")
    if time_column:  # ordered by time: only the targets and the time column are read
        y, time, groups = read_targets(), example_times(), None
    else:  # repeated examples are kept together
        x, y = read_raw()
        time, groups = None, repeat_groups(kind_of(raw).row_hashes(x))
    classification = raw["problem"] == "classification"
    split = make_split(y, params.split, params.seed, time, stratify=classification, groups=groups)
    problem = too_few_to_judge(y, split, classification, params.split.min_class_examples, raw.get("class_names"))
    if problem:
        raise PipelineError(problem)
    write_split(split)
    fold = split["folds"][0]
    together = f"; {len(y) - groups.max() - 1} repeated examples kept in their originals' splits" if groups is not None else ""
    print(f"split: {split['protocol']}{' (time-ordered)' if time_column else ''}, {len(split['folds'])} fold(s), "
          f"fold 0 train {len(fold['train'])}, validation {len(fold['validation'])}; test {len(split['test'])}"
          f"{together}")


if __name__ == "__main__":
    run_stage(main)
