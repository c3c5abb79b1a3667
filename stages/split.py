"""split: the evaluation protocol (holdout, K-fold, iterated K-fold), seeded and stratified, or time-ordered."""
from stages.lib import paths
from stages.lib.errors import run_stage
from stages.lib.io import read_json, write_json
from stages.lib.kinds import read_raw
from stages.lib.params import load_params
from stages.lib.splitting import make_split


def main() -> None:
    params = load_params()
    x, y = read_raw()
    raw = read_json(paths.RAW_MANIFEST)
    time_column = raw.get("time_column")
    time = x[time_column].to_numpy() if time_column else None
    split = make_split(y, params.split, params.seed, time, stratify=raw["problem"] == "classification")
    write_json(paths.SPLIT, split)
    fold = split["folds"][0]
    print(f"split: {split['protocol']}{' (time-ordered)' if time_column else ''}, {len(split['folds'])} fold(s), "
          f"fold 0 train {len(fold['train'])}, validation {len(fold['validation'])}; test {len(split['test'])}")


if __name__ == "__main__":
    run_stage(main)
