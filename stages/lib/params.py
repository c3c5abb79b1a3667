"""params.yaml, read once, validated and typed: one model per section."""
import re
from pathlib import Path
from typing import Annotated, Literal, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from stages.lib.errors import PipelineError

PARAMS_FILE = "params.yaml"


class Section(BaseModel):
    # strict: no coercion ("5" is not 5, true is not 1; an int is still a float); no inf or nan.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


# Hidden layer widths: at least one layer, each at least one unit.
Layers = Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1)]


DATASET_NAMES = ("digits", "mnist", "imdb", "table", "text")


class TaskParams(Section):
    dataset: Literal[DATASET_NAMES]
    # table and text only; auto: a numeric target with non-integer or many distinct values is regression.
    problem: Literal["auto", "classification", "regression"]
    # Majority/minority class-count ratio above which the task counts as imbalanced.
    imbalance_ratio: float = Field(gt=1)


class ImdbEncoding(Section):
    """keras.datasets.imdb.load_data's arguments, with its meaning."""

    num_words: int = Field(ge=4)
    start_char: int = Field(ge=0)
    oov_char: int = Field(ge=0)
    index_from: int = Field(ge=0)


class TableSource(Section):
    path: str  # a CSV or parquet file
    target: str
    time_column: Optional[str]  # set: the split is time-ordered and validation checks the arrow of time
    # Column roles; null infers them (numbers -> numeric, anything else -> categorical).
    numeric: Optional[list[str]]
    categorical: Optional[list[str]]
    # Cell values read as missing besides empty cells (CSV) and nulls (parquet), e.g. ["NA", "?", -999].
    missing_values: list[Union[str, int, float]]
    # Columns left out of the features. auto: constants, dates, row-counter ids and free text (unless
    # named in numeric/categorical); a list: exactly those columns; []: none.
    exclude: Union[Literal["auto"], list[str]]

    @model_validator(mode="after")
    def _roles_do_not_overlap(self):
        both = sorted(set(self.numeric or []) & set(self.categorical or []))
        if both:
            raise ValueError(f"columns {both} are listed as both numeric and categorical")
        listed = set(self.exclude) if isinstance(self.exclude, list) else set()
        kept = sorted(listed & (set(self.numeric or []) | set(self.categorical or []) | {self.target, self.time_column}))
        if kept:
            raise ValueError(f"columns {kept} are in exclude and also named as target, time column, numeric or categorical")
        return self


class TextSource(Section):
    path: str  # a CSV file, or a folder with one sub-folder of .txt files per class (the aclImdb layout)
    text_column: str  # CSV only
    label_column: str  # CSV only
    classes: Optional[list[str]]  # folder only: the class sub-folders to read; null reads every one


class CollectParams(Section):
    # Keep a stratified sample of this many examples (null keeps all): for quick runs.
    limit: Optional[int] = Field(gt=0)
    # Drop examples whose content repeats an earlier one (true), keep them (false), or auto: drop copies of a
    # text or an image, keep a table's identical rows (observations). Kept repeats are split together.
    deduplicate: Union[Literal["auto"], bool]
    # A folder already holding the published files (mnist.npz); null: $UWF_DATA_DIR, then the Keras cache.
    data_dir: Optional[str]
    imdb: ImdbEncoding
    table: TableSource
    text: TextSource


class SplitParams(Section):
    protocol: Literal["auto", "holdout", "kfold", "iterated_kfold"]
    # auto: iterated K-fold for datasets of fewer examples than this, holdout otherwise.
    small_dataset_rows: int = Field(ge=1)
    shuffle: bool
    test_fraction: float = Field(gt=0, lt=1)
    validation_fraction: float = Field(gt=0, lt=1)
    folds: int = Field(ge=2)
    repeats: int = Field(ge=1)
    # Fewest examples of each class (classification) in the test split and in every validation split;
    # fewer stops split before any training, since no model could be judged on them.
    min_class_examples: int = Field(ge=1)

    @model_validator(mode="after")
    def _fractions_leave_training_data(self):
        if self.test_fraction + self.validation_fraction >= 0.9:
            raise ValueError("test_fraction + validation_fraction must stay under 0.9")
        return self


class ValidateParams(Section):
    # L-infinity distance allowed between a split's class proportions and the whole's.
    max_class_proportion_gap: float = Field(gt=0, le=1)
    # Target leakage: a table column that alone scores this high on validation fails validation.
    max_single_feature_score: float = Field(gt=0, le=1)
    # Its one-column models train on a seeded sample of at most this many training rows and score on as many
    # validation rows; null: every row.
    leakage_max_rows: Optional[int] = Field(default=None, ge=100)
    # Drift: Jensen-Shannon divergence (base 2) allowed between a numeric feature's training
    # histogram and its validation or test histogram.
    max_js_divergence: float = Field(gt=0, le=1)
    # Drift over max_js_divergence: fail, report, or auto (fail for shuffled splits, report for
    # time-ordered ones, which compare the past with the future).
    drift: Literal["auto", "fail", "report"]
    # Time-ordered splits: a numeric column that counts up with time (a row id) only encodes the time order.
    time_index: Literal["fail", "report"]
    # Time-ordered splits: share of a feature's validation or test values outside its training range
    # above which validation fails; null reports the shares without failing.
    max_out_of_range_share: Optional[float] = Field(gt=0, le=1)


class TextVectorizeParams(Section):
    """keras.layers.TextVectorization's settings, fitted on the training split only."""

    output_mode: Literal["multi_hot", "tf_idf"]
    ngrams: int = Field(ge=1, le=2)  # 2: unigrams and bigrams
    max_tokens: int = Field(ge=2)


class VectorizeParams(Section):
    normalization: Literal["standard", "minmax", "none"]
    # Table columns: numeric missing values -> median or KNN imputation plus a missing-indicator column;
    # categorical ones -> a "missing" category.
    imputation: Literal["median", "knn"]
    knn_neighbors: int = Field(ge=1)
    max_categories: int = Field(ge=2)  # per categorical column: one-hot columns, the last for all rarer values
    # A categorical column of more values than this (after max_categories) is one column of indices, which the
    # model turns into a learned embedding (stages/lib/indexing.py); None: every column one-hot; auto: the
    # columns of more than 16 (or fewer) values where one-hot features would be sparse (kinds/table.py).
    index_above: Union[Literal["auto"], Annotated[int, Field(ge=1)], None]
    text: TextVectorizeParams


class BaselineParams(Section):
    # Trivial models scored next to the task's own baseline (define_task picks it).
    classification: list[Literal["most_frequent", "stratified", "uniform", "prior"]] = Field(min_length=1)
    regression: list[Literal["mean", "median"]] = Field(min_length=1)


class TrainingParams(Section):
    epochs: int = Field(ge=1)
    batch_size: Union[Annotated[int, Field(ge=1)], Literal["auto"]]  # auto: models.batch_size_for
    optimizer: Literal["rmsprop", "adam", "sgd"]
    learning_rate: float = Field(gt=0)


class OverfitParams(TrainingParams):
    units: Layers
    # Final validation loss above (1 + tolerance) x its minimum counts as overfitting.
    overfit_tolerance: float = Field(ge=0)
    # Stop a fold's training once its validation loss has stayed overfit_tolerance above its lowest for this many
    # epochs (overfitting shown); null: train every epoch.
    stop_once_overfit: Optional[int] = Field(default=None, ge=1)


class Candidate(Section):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    units: Layers
    l1: float = Field(default=0.0, ge=0)
    l2: float = Field(default=0.0, ge=0)
    dropout: float = Field(default=0.0, ge=0, lt=1)
    # Stop after this many epochs without improvement of the validation score (models.stopping_metric),
    # restoring the best epoch's weights.
    early_stopping_patience: Optional[int] = Field(default=None, ge=1)


class RegularizeParams(TrainingParams):
    candidates: list[Candidate] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self):
        names = [c.name for c in self.candidates]
        if len(set(names)) != len(names):
            raise ValueError(f"candidate names must be unique, got {names}")
        return self


class EvaluateParams(Section):
    # The chosen model must close at least this fraction of the gap between the best baseline's
    # test score and a perfect one, on the task's primary metric (accuracy, PR-AUC or MAE).
    min_skill_over_baseline: float = Field(ge=0, le=1)
    # The model must also be better than the best baseline on the same test examples with a one-sided
    # paired test (McNemar's exact test for accuracy, a paired bootstrap otherwise) at this p-value; 1 disables.
    significance: float = Field(gt=0, le=1)
    # Resamples of the test examples behind each metric's 95% interval (the percentile bootstrap;
    # accuracy, a proportion, gets Wilson's interval); also for a single validation split's interval.
    bootstrap_samples: int = Field(ge=100, le=100_000)
    # The chosen configuration is trained this many times (seed, seed+1, ...) on the development data and
    # scored on test; the spread (test_*_seed_std) widens the verdicts of the pull-request report.
    seeds: int = Field(ge=1, le=100)


class ExportParams(Section):
    # The name the model is served under: POST /v1/models/<model_name>:predict
    model_name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    # Largest difference allowed between the exported model on raw test inputs and the trained model
    # on the test features, relative to the outputs' scale max(1, largest |output|): float32 rounds at
    # about 1.2e-7 of that scale; a bigger one means the preprocessing layers disagree with vectorize.
    max_output_difference: float = Field(gt=0)
    # The check runs on a seeded random sample of at most this many test examples (null: all of them): the raw
    # inputs of two million test rows, as the served model takes them, would hold gigabytes.
    max_parity_examples: Optional[int] = Field(default=None, ge=1)


class OptimizeParams(Section):
    # Fraction of each Dense kernel's weights set to zero, the smallest magnitudes first.
    sparsity: float = Field(gt=0, lt=1)
    fine_tune_epochs: int = Field(ge=0)  # training after pruning, with the zeros held in place
    # A variant is rejected (not written, the stage still passes) when it is significantly worse than
    # float32 on the same test examples (one-sided paired test at `significance`) AND loses more than
    # max_score_loss of the primary metric (and more than one test example can make): absolute for metrics in
    # [0, 1] (accuracy, PR-AUC), a share of float32's score for unbounded ones (MAE, RMSE).
    max_score_loss: float = Field(ge=0)
    significance: float = Field(gt=0, le=1)


class ServeParams(Section):
    host: str
    port: int = Field(ge=0, le=65535)
    max_batch: int = Field(ge=1)  # instances per request; more is refused with 413
    max_body_bytes: int = Field(ge=1)  # a larger request body is refused with 413 before it is parsed
    # A request whose headers or body have not all arrived after this long is dropped (408 once headers are in).
    request_timeout_seconds: float = Field(gt=0)
    docs: bool  # serve the OpenAPI pages /docs and /openapi.json (python -m stages.serve --docs also does)


class MonitorParams(Section):
    # A numeric feature of a new batch drifts when its Jensen-Shannon divergence from the training data is above this.
    max_js_divergence: float = Field(gt=0, le=1)
    # The predicted classes drift when any class's share differs from its training share by more than this.
    max_linf_distance: float = Field(gt=0, le=1)


class StudiesParams(TrainingParams):
    units: Layers  # the base model's hidden layers
    capacity_small: Layers
    capacity_large: Layers
    l1: float = Field(gt=0)
    l2: float = Field(gt=0)
    dropout: float = Field(gt=0, lt=1)
    patience: int = Field(ge=1)
    # Mutual information (nats) a feature needs to be kept by the selection variant.
    mi_threshold: float = Field(ge=0)
    # Validation accuracy this close to the zero-channel level counts as recovered.
    accuracy_tolerance: float = Field(ge=0, le=1)
    # Validation accuracy within this much of chance counts as "at chance".
    chance_margin: float = Field(ge=0, le=1)
    # Final validation cross-entropy this far above its minimum counts as overfitting.
    overfit_tolerance: float = Field(ge=0)
    # A training split of more examples than this: the studies train on a seeded sample of this many (stratified
    # for classification) and validate on the same share of the validation split; null: every example.
    max_examples: Optional[int] = Field(default=None, ge=1)


class Params(Section):
    seed: int = Field(ge=0, lt=2**32)  # NumPy and scikit-learn take seeds below 2**32
    task: TaskParams
    collect: CollectParams
    split: SplitParams
    validate_: ValidateParams = Field(alias="validate")
    vectorize: VectorizeParams
    baseline: BaselineParams
    overfit: OverfitParams
    regularize: RegularizeParams
    evaluate: EvaluateParams
    export: ExportParams
    optimize: OptimizeParams
    serve: ServeParams
    monitor: MonitorParams
    # One set of study sizes per dataset: the book's set-ups for mnist and imdb, scaled for digits.
    studies: dict[Literal[DATASET_NAMES], StudiesParams]

    @model_validator(mode="after")
    def _studies_for_the_task(self):
        if self.task.dataset not in self.studies:
            raise ValueError(f"studies has no settings for task.dataset '{self.task.dataset}': add studies.{self.task.dataset}")
        return self

    @property
    def study_settings(self) -> StudiesParams:
        """The study sizes of the current dataset."""
        return self.studies[self.task.dataset]


class _Loader(yaml.SafeLoader):
    """YAML as DVC reads it (1e-3 is a number, YAML 1.2), and a repeated key is an error, not an overwrite."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                repeated = key in seen
            except TypeError:  # an unhashable key: SafeLoader says so
                continue
            if repeated:
                raise yaml.YAMLError(f"key {key!r} appears twice (line {key_node.start_mark.line + 1})")
            seen.add(key)
        return super().construct_mapping(node, deep)


_Loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(\.[0-9_]*)?[eE][-+]?[0-9]+$"),
                              list("-+0123456789"))


def _key(loc) -> str:
    """('overfit', 'units', 0) -> overfit.units[0]; pydantic's union branch tags (list[str]) are left out."""
    parts = [part for part in loc if isinstance(part, int) or "[" not in part]
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts).lstrip(".")


def _describe(error: dict) -> str:
    key = _key(error["loc"])
    if error["loc"] and error["loc"][-1] == "[key]":  # a mapping key outside its allowed names (studies.<dataset>)
        return f"unknown key '{_key(error['loc'][:-1])}': {error['msg']}"
    if error["type"] == "missing":
        return f"missing key '{key}'"
    if error["type"] == "extra_forbidden":
        return f"unknown key '{key}'"
    if not key:
        return error["msg"]
    value = error.get("input")
    got = "" if isinstance(value, (dict, list)) or len(repr(value)) > 40 else f", got {value!r}"
    return f"bad value for '{key}': {error['msg']}{got}"


def load_params(path=PARAMS_FILE) -> Params:
    """Read and validate params.yaml; any problem is a PipelineError naming the key and the file."""
    path = Path(path)
    if not path.exists():
        raise PipelineError(f"{path} not found: run the stages from the project root")
    try:
        raw = yaml.load(path.read_text(), Loader=_Loader)
    except yaml.YAMLError as error:
        raise PipelineError(f"{path} is not valid YAML: {str(error).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise PipelineError(f"{path} must be a mapping of sections (seed, task, collect, ...)")
    try:
        return Params.model_validate(raw)
    except ValidationError as error:
        problems = error.errors()
        keys = {_key(problem["loc"]) for problem in problems}  # a union reports each of its branches
        more = f" (and {len(keys) - 1} more problem(s))" if len(keys) > 1 else ""
        raise PipelineError(f"{path}: {_describe(problems[0])}{more}; fix it and rerun") from None
