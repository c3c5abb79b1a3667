"""Every artifact path the stages exchange; dvc.yaml declares the same paths."""
RAW_DIR = "data/raw"
RAW_DATA = "data/raw/examples.npz"  # images and token sequences
RAW_TABLE = "data/raw/table.parquet"  # table feature and time columns
RAW_TEXTS = "data/raw/texts.parquet"
RAW_LABELS = "data/raw/labels.npz"  # the targets of a table or texts
RAW_MANIFEST = "data/raw/manifest.json"
TASK = "reports/task.json"
SPLIT_DIR = "data/split"
SPLIT = "data/split/split.json"  # the protocol and each part's size
SPLIT_INDICES = "data/split/indices.npz"  # each part's row numbers
VALIDATION = "reports/validation.json"
VALIDATION_RESULTS = "reports/validation_results.json"
DATA_DOCS = "reports/data_docs"
FEATURES_DIR = "data/features"
FOLD_FEATURES_DIR = "data/features/folds"
PREPROCESSING = "data/features/preprocessing.json"  # fitted on all development data
PREPROCESSING_MODEL = "data/features/preprocessing.keras"  # the same, as Keras layers (what export serves)
BASELINE_METRICS = "reports/metrics/baseline.json"
OVERFIT_MODEL = "models/overfit/model.keras"
OVERFIT_METRICS = "reports/metrics/overfit.json"
OVERFIT_HISTORY = "reports/plots/overfit_history.csv"
REGULARIZED_DIR = "models/regularized"
REGULARIZE_METRICS = "reports/metrics/regularize.json"
REGULARIZED_HISTORY = "reports/plots/regularized_history.csv"
CANDIDATE_HISTORIES = "reports/plots/regularize_candidates.csv"
EVALUATE_METRICS = "reports/metrics/evaluate.json"
EXPORT_DIR = "models/export"  # model.keras, saved_model/, signature.json
EXPORT_METRICS = "reports/metrics/export.json"
OPTIMIZED_DIR = "models/optimized"  # int8.keras, pruned.keras
OPTIMIZE_METRICS = "reports/metrics/optimize.json"
OPTIMIZATION_TABLE = "reports/optimization.md"
PREDICTIONS = "reports/plots/test_predictions.csv"
# Every test example's prediction, committed so that two revisions compare on the same examples.
TEST_PREDICTIONS = "reports/predictions.csv"
LEARNING_CURVES_PNG = "reports/figures/learning_curves.png"
PREDICTIONS_PNG = "reports/figures/test_predictions.png"  # confusion matrix, or predicted vs actual
# One self-contained HTML page for people: the run explained, from the reports above (python -m stages.model_card).
MODEL_CARD = "reports/model_card.html"
ENVIRONMENT = "reports/environment.json"  # machines the stages ran on; not a DVC output (several stages write it)


_STUDIES = "reports/studies"
STUDIES_SUMMARY = "reports/studies.md"


def study_metrics(name: str) -> str:
    return f"{_STUDIES}/{name}.json"


def study_curves(name: str) -> str:
    """A folder of per-variant CSV files (epoch, loss, accuracy, val_loss, ...)."""
    return f"{_STUDIES}/{name}"


def study_png(name: str) -> str:
    return f"{_STUDIES}/{name}.png"


def features_file(split: str, fold=None) -> str:
    """A fold's train/validation features, or (fold None) the development/test features of the final model."""
    return f"{FEATURES_DIR}/{split}.npz" if fold is None else f"{FOLD_FEATURES_DIR}/{fold}/{split}.npz"
