"""split: the evaluation protocol (holdout, K-fold, iterated K-fold), seeded and stratified."""
from stages.lib import paths
from stages.lib.artifacts import read_raw
from stages.lib.errors import run_stage
from stages.lib.io import write_json
from stages.lib.params import load_params
from stages.lib.splitting import make_split


def main() -> None:
    params = load_params()
    _, y = read_raw()
    split = make_split(y, params.split, params.seed)
    write_json(paths.SPLIT, split)
    fold = split["folds"][0]
    print(f"split: {split['protocol']}, {len(split['folds'])} fold(s), train {len(fold['train'])}, "
          f"validation {len(fold['validation'])}, test {len(split['test'])}")


if __name__ == "__main__":
    run_stage(main)
