"""Defining the task: the book's table from problem type to last layer, loss and metrics."""
from dataclasses import dataclass, fields
from typing import Optional

from stages.lib import paths
from stages.lib.errors import PipelineError

# Chollet, ch. 6: choosing the right last-layer activation and loss for your model.
_TABLE = {
    "binary": ("sigmoid", "binary_crossentropy"),
    "multiclass": ("softmax", "sparse_categorical_crossentropy"),
    "regression": (None, "mse"),
}

# Written to task.json only when set: balanced and class_ratio for classification, positive_class for binary.
_OPTIONAL = ("balanced", "class_ratio", "positive_class")


@dataclass(frozen=True, kw_only=True)
class Task:
    """The task definition, reports/task.json; the fields are in the file's order."""
    dataset: str
    problem_type: str  # regression, binary_classification or multiclass_classification
    classes: tuple  # the class labels, sorted; () for regression
    n_classes: int
    last_layer_activation: Optional[str]  # None: a linear output (regression)
    loss: str
    output_units: int
    training_metric: str
    balanced: Optional[bool] = None  # classification only
    class_ratio: Optional[float] = None  # majority / minority class count; classification only
    primary_metric: str
    greater_is_better: bool
    secondary_metrics: tuple
    baseline: str  # the scikit-learn dummy strategy the task's scores are judged against
    positive_class: Optional[int] = None  # the class precision and recall are about; binary only

    @property
    def is_regression(self) -> bool:
        return self.problem_type == "regression"

    @property
    def is_binary(self) -> bool:
        return self.problem_type == "binary_classification"

    @property
    def positive(self) -> int:
        """The class a binary task's precision, recall and PR-AUC are about: positive_class, else class 1."""
        return 1 if self.positive_class is None else self.positive_class

    def to_dict(self) -> dict:
        """task.json's content, key for key as define_task has always written it."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["classes"], data["secondary_metrics"] = list(self.classes), list(self.secondary_metrics)
        return {k: v for k, v in data.items() if not (k in _OPTIONAL and v is None)}

    @classmethod
    def from_dict(cls, data: dict, source: str = paths.TASK) -> "Task":
        names = [f.name for f in fields(cls)]
        missing = [n for n in names if n not in data and n not in _OPTIONAL]
        unknown = [k for k in data if k not in names]
        if missing or unknown:
            problems = ([f"lacks {', '.join(missing)}"] if missing else []) + (
                [f"has unknown key(s) {', '.join(unknown)}"] if unknown else [])
            raise PipelineError(f"{source} {' and '.join(problems)}: rebuild it with `dvc repro define_task`")
        return cls(**{**data, "classes": tuple(data["classes"]), "secondary_metrics": tuple(data["secondary_metrics"])})


def read_task(path=paths.TASK) -> Task:
    """reports/task.json (or the task.json at `path`) as a Task."""
    from stages.lib.io import read_json

    return Task.from_dict(read_json(path), str(path))


def define_task(dataset: str, problem: str, class_counts: Optional[dict], imbalance_ratio: float) -> Task:
    """The task definition: problem type, classes, last layer, loss, metrics and baseline kind.

    `class_counts` maps class label -> number of examples (None for regression). A
    classification task whose majority/minority ratio exceeds `imbalance_ratio` is scored
    with PR-AUC, precision and recall instead of accuracy and ROC AUC, against the
    positive-rate (prior) predictor. A binary task's positive class is its minority class.
    """
    if problem == "regression":
        activation, loss = _TABLE["regression"]
        return Task(dataset=dataset, problem_type="regression", classes=(), n_classes=0,
                    last_layer_activation=activation, loss=loss, output_units=1, training_metric="mae",
                    primary_metric="mae", greater_is_better=False,
                    secondary_metrics=("rmse", "r2"), baseline="mean")
    if not class_counts or len(class_counts) < 2:
        raise ValueError(f"a classification task needs at least two classes, got {sorted(class_counts or {})}")
    counts = {int(c): n for c, n in class_counts.items()}
    classes = tuple(sorted(counts))
    kind = "binary" if len(classes) == 2 else "multiclass"
    activation, loss = _TABLE[kind]
    ratio = max(counts.values()) / min(counts.values())
    balanced = ratio <= imbalance_ratio
    return Task(
        dataset=dataset,
        problem_type=f"{kind}_classification",
        classes=classes,
        n_classes=len(classes),
        last_layer_activation=activation,
        loss=loss,
        output_units=1 if kind == "binary" else len(classes),
        training_metric="accuracy",
        balanced=balanced,
        class_ratio=ratio,
        primary_metric="accuracy" if balanced else "pr_auc",
        greater_is_better=True,
        secondary_metrics=("roc_auc", "f1") if balanced else ("precision", "recall"),
        baseline="most_frequent" if balanced else "prior",
        # The minority class (ties: the larger label) is the one precision and recall are about.
        positive_class=min(reversed(classes), key=lambda c: counts[c]) if kind == "binary" else None,
    )
