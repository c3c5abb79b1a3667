"""vectorize: float32 features for every fold and for the final model, each fitted on its training data only."""
from pathlib import Path

from stages.lib import paths
from stages.lib.artifacts import write_features
from stages.lib.errors import run_stage
from stages.lib.export import preprocessing_model
from stages.lib.io import atomic_dir, read_json, row_blocks, save_keras_model, write_json
from stages.lib.kinds import kind_of, read_raw
from stages.lib.params import load_params
from stages.lib.splitting import check_split_file, read_split


def main() -> None:
    params = load_params()
    x, y = read_raw()
    raw = read_json(paths.RAW_MANIFEST)
    split = read_split()
    check_split_file(split, len(y))
    # Each fold's models see features fitted on that fold's training part; the final model's
    # are fitted on all development data. The test split is only ever transformed.
    jobs = [(f"folds/{number}", fold["train"], {"train": fold["train"], "validation": fold["validation"]})
            for number, fold in enumerate(split["folds"])]
    jobs.append((".", split["development"], {"development": split["development"], "test": split["test"]}))
    kind = kind_of(raw)
    with atomic_dir(paths.FEATURES_DIR) as tmp:
        for folder, fit_on, parts in jobs:
            preprocessor = kind.fit_preprocessor(kind.preprocessor(raw, params.vectorize, params.collect.imdb), x, fit_on)
            for name, indices in parts.items():
                # Transformed and written a block of rows at a time: the rows' copies and float64 intermediates
                # are never all in memory at once, nor (dense) the features themselves. The raw examples are.
                blocks = (preprocessor.transform(kind.take(x, block)) for block in row_blocks(indices))
                columns, storage = write_features(tmp / folder / f"{name}.npz", blocks, y[indices])
            statistics = preprocessor.statistics()
            write_json(tmp / folder / "preprocessing.json", statistics)
        # The final model's preprocessing as Keras layers, built from the statistics just fitted: export
        # serves it as it is (a KNN-imputed table cannot be served, and export says so).
        if not kind.unservable(statistics):
            save_keras_model(preprocessing_model(preprocessor, raw), tmp / Path(paths.PREPROCESSING_MODEL).name)
    capped, indexed = statistics.get("other_values"), statistics.get("indexed")
    print(f"vectorize: {columns} float32 features ({raw['kind']}, {storage}) for "
          f"{len(split['folds'])} fold(s) and the final model, each fitted on its training data only"
          + (f"; capped at vectorize.max_categories={params.vectorize.max_categories}: {', '.join(capped)}"
             if capped else "")
          + (f"; indexed into learned embeddings (more than {indexed['above']} values, vectorize.index_above: "
             f"{params.vectorize.index_above}): {', '.join(indexed['columns'])}" if indexed else ""))


if __name__ == "__main__":
    run_stage(main)
