"""vectorize: float32 tensors per split, normalization fitted on the training split only."""
from stages.lib import paths
from stages.lib.artifacts import SPLITS, read_raw, write_features
from stages.lib.errors import run_stage
from stages.lib.features import fit_normalizer, flatten, normalizer_statistics, transform
from stages.lib.io import atomic_dir, read_json, write_json
from stages.lib.params import load_params
from stages.lib.sequences import Sequences
from stages.lib.splitting import check_split_file


def main() -> None:
    params = load_params()
    x, y = read_raw()
    split = read_json(paths.SPLIT)
    check_split_file(split, len(y))
    # Training uses the first fold; cross-validated training over every fold comes with the protocols issue.
    fold = split["folds"][0]
    indices = {"train": fold["train"], "validation": fold["validation"], "test": split["test"]}
    if isinstance(x, Sequences):
        # Multi-hot features are already 0/1: no normalization, and sparse to stay small.
        n_features = params.collect.imdb.num_words
        features = {name: x[indices[name]].multi_hot(n_features) for name in SPLITS}
        statistics = {"kind": "multi_hot", "n_features": n_features}
    else:
        flat = {name: flatten(x[indices[name]], f"the {name} split") for name in SPLITS}
        scaler = fit_normalizer(flat["train"], params.vectorize.normalization)
        features = {name: transform(scaler, flat[name]) for name in SPLITS}
        statistics = normalizer_statistics(scaler, params.vectorize.normalization)
    with atomic_dir(paths.FEATURES_DIR) as tmp:
        for name in SPLITS:
            write_features(tmp, name, features[name], y[indices[name]])
        write_json(tmp / "normalizer.json", statistics)
    print(f"vectorize: {features['train'].shape[1]} float32 features ({statistics['kind']}), fitted on "
          f"{features['train'].shape[0]} training examples")


if __name__ == "__main__":
    run_stage(main)
