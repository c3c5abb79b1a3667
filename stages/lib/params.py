"""params.yaml, read once, validated and typed: one model per section."""
from pathlib import Path
from typing import Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from stages.lib.errors import PipelineError

PARAMS_FILE = "params.yaml"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TaskParams(Section):
    dataset: Literal["digits", "mnist", "imdb"]
    # Majority/minority class-count ratio above which the task counts as imbalanced.
    imbalance_ratio: float = Field(gt=1)


class ImdbEncoding(Section):
    """keras.datasets.imdb.load_data's arguments, with its meaning."""

    num_words: int = Field(ge=4)
    start_char: int = Field(ge=0)
    oov_char: int = Field(ge=0)
    index_from: int = Field(ge=0)


class CollectParams(Section):
    # Keep a stratified sample of this many examples (null keeps all): for quick runs.
    limit: Optional[int] = Field(gt=0)
    # Drop examples whose content repeats an earlier one, so no example can sit in two splits.
    deduplicate: bool
    # A folder already holding the published files (mnist.npz); null: $UWF_DATA_DIR, then the Keras cache.
    data_dir: Optional[str]
    imdb: ImdbEncoding


class SplitParams(Section):
    protocol: Literal["holdout", "kfold", "iterated_kfold"]
    shuffle: bool
    test_fraction: float = Field(gt=0, lt=1)
    validation_fraction: float = Field(gt=0, lt=1)
    folds: int = Field(ge=2)
    repeats: int = Field(ge=1)

    @model_validator(mode="after")
    def _fractions_leave_training_data(self):
        if self.test_fraction + self.validation_fraction >= 0.9:
            raise ValueError("test_fraction + validation_fraction must stay under 0.9")
        return self


class ValidateParams(Section):
    # L-infinity distance allowed between a split's class proportions and the whole's.
    max_class_proportion_gap: float = Field(gt=0, le=1)


class VectorizeParams(Section):
    normalization: Literal["standard", "minmax", "none"]


class BaselineParams(Section):
    strategies: list[Literal["most_frequent", "stratified", "uniform", "prior"]] = Field(min_length=1)


class TrainingParams(Section):
    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    optimizer: Literal["rmsprop", "adam", "sgd"]
    learning_rate: float = Field(gt=0)


class OverfitParams(TrainingParams):
    units: list[int] = Field(min_length=1)
    # Final validation loss above (1 + tolerance) x its minimum counts as overfitting.
    overfit_tolerance: float = Field(ge=0)


class Candidate(Section):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    units: list[int] = Field(min_length=1)
    l1: float = Field(default=0.0, ge=0)
    l2: float = Field(default=0.0, ge=0)
    dropout: float = Field(default=0.0, ge=0, lt=1)
    # Stop after this many epochs without validation-loss improvement, restoring the best weights.
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
    # The chosen model's test accuracy must exceed the best baseline's by at least this much.
    min_margin_over_baseline: float = Field(ge=0)


class StudiesParams(TrainingParams):
    units: list[int] = Field(min_length=1)  # the base model's hidden layers
    capacity_small: list[int] = Field(min_length=1)
    capacity_large: list[int] = Field(min_length=1)
    l1: float = Field(gt=0)
    l2: float = Field(gt=0)
    dropout: float = Field(gt=0, lt=1)
    patience: int = Field(ge=1)
    # Mutual information (nats) a feature needs to be kept by the selection variant.
    mi_threshold: float = Field(ge=0)
    # Validation accuracy this close to the zero-channel level counts as recovered.
    accuracy_tolerance: float = Field(ge=0)
    # Validation accuracy within this much of chance counts as "at chance".
    chance_margin: float = Field(ge=0)
    # Final validation cross-entropy this far above its minimum counts as overfitting.
    overfit_tolerance: float = Field(ge=0)


class Params(Section):
    seed: int = Field(ge=0)
    task: TaskParams
    collect: CollectParams
    split: SplitParams
    validate_: ValidateParams = Field(alias="validate")
    vectorize: VectorizeParams
    baseline: BaselineParams
    overfit: OverfitParams
    regularize: RegularizeParams
    evaluate: EvaluateParams
    # One set of study sizes per dataset: the book's set-ups for mnist and imdb, scaled for digits.
    studies: dict[Literal["digits", "mnist", "imdb"], StudiesParams]

    @model_validator(mode="after")
    def _studies_for_the_task(self):
        if self.task.dataset not in self.studies:
            raise ValueError(f"studies has no settings for task.dataset '{self.task.dataset}': add studies.{self.task.dataset}")
        return self

    @property
    def study_settings(self) -> StudiesParams:
        """The study sizes of the current dataset."""
        return self.studies[self.task.dataset]


def _describe(error: dict) -> str:
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] == "missing":
        return f"missing key '{key}'"
    if error["type"] == "extra_forbidden":
        return f"unknown key '{key}'"
    return f"bad value for '{key}': {error['msg']}" if key else error["msg"]


def load_params(path=PARAMS_FILE) -> Params:
    """Read and validate params.yaml; any problem is a PipelineError naming the key and the file."""
    path = Path(path)
    if not path.exists():
        raise PipelineError(f"{path} not found: run the stages from the project root")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise PipelineError(f"{path} is not valid YAML: {str(error).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise PipelineError(f"{path} must be a mapping of sections (seed, task, collect, ...)")
    try:
        return Params.model_validate(raw)
    except ValidationError as error:
        problems = error.errors()
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise PipelineError(f"{path}: {_describe(problems[0])}{more}; fix it and rerun") from None
