"""The chapter 5 studies: each trains a few variants and checks one claim of the book.

A study is a list of variants (a model and, where the study needs it, a change to the data)
and a verdict: a pure function from the variants' per-epoch histories to what was measured
and whether the book's claim held. Everything here but `run_study` is free of TensorFlow.

Each study has two forms. The classification form is the book's. The regression form reads the
validation MAE where the classification form reads accuracy or the plain cross-entropy, and the
mean predictor's MAE where it reads chance; the claims about the validation loss are the same.
"""
from dataclasses import dataclass, field, replace
from typing import Callable, Optional

import numpy as np
import pandas as pd
from scipy.sparse import issparse

from stages.lib import markdown
from stages.lib.errors import PipelineError
from stages.lib.models import VALIDATION_LOSS, best_epoch
from stages.lib.task import Task


# Chapter 5 reads everything off the validation loss curve, early stopping included.
LOSS_CURVE = VALIDATION_LOSS

# The error a form reads where weight penalties must not count (Keras' val_loss includes them): the plain
# cross-entropy for classifiers; for regression the MAE, the task's own metric, in the target's units (the
# models report no plain MSE). The regression form's training score is that MAE too, where classifiers' is accuracy.
PLAIN_LOSS = {"classification": "cross_entropy", "regression": "mae"}
TRAINING_SCORE = {"classification": "accuracy", "regression": "mae"}

# The regression form's tolerances, shares of an error where params' accuracy_tolerance and chance_margin are
# points of accuracy (no params key holds them). 5% is the share models.diagnose allows a regression model's
# training error near the mean predictor's before calling training failed.
# noise_channels: the selected features' validation MAE at most this share above the zero channels' is recovered.
RECOVERED_SHARE = 0.05
# random_labels, learning_rate: an MAE no more than this share below the mean predictor's is at its level.
MEAN_PREDICTOR_SHARE = 0.05
# early_stopping: the restored weights' validation loss within this share of the lowest one is the same loss. The
# classification form allows 1e-4 outright; a regression loss is in the target's units squared (house prices:
# 1e9), where float32 rounding alone exceeds that.
RESTORED_SHARE = 1e-4


@dataclass(frozen=True)
class Variant:
    name: str
    units: tuple
    l1: float = 0.0
    l2: float = 0.0
    dropout: float = 0.0
    learning_rate: Optional[float] = None  # None: the studies' default
    patience: Optional[int] = None  # early stopping with restored best weights
    data: str = "as_is"  # as_is | noise_channels | zero_channels | mi_selected | random_labels

    @property
    def changes_features(self) -> bool:
        """Adds or selects feature columns, which needs dense features."""
        return self.data in ("noise_channels", "zero_channels", "mi_selected")


@dataclass(frozen=True)
class Study:
    name: str
    claim: str
    variants: list
    verdict: Callable = field(repr=False)  # (histories, settings, form) -> dict
    form: str = "classification"  # classification | regression


def study_form(task: Task) -> str:
    return "regression" if task.is_regression else "classification"


# ---- data changes -------------------------------------------------------------------------

def add_channels(x: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Double the feature count with uniform noise in [0, 1) or with zeros (the book's MNIST set-up)."""
    extra = rng.random(x.shape, dtype=np.float32) if kind == "noise" else np.zeros_like(x)
    return np.concatenate([x, extra], axis=1)


def mutual_information_mask(x_train: np.ndarray, y_train: np.ndarray, threshold: float, seed: int,
                            regression: bool = False) -> np.ndarray:
    """Features whose mutual information with the label or, for `regression`, the target (on training data
    only) exceeds `threshold`.

    When none does (a rare class carries little information: a 1:20 label has 0.19 nats in all), the
    half with the most, as many features as there were before the channels doubled them.
    """
    from sklearn.feature_selection import mutual_info_classif, mutual_info_regression

    scores = (mutual_info_regression if regression else mutual_info_classif)(x_train, y_train, random_state=seed)
    keep = scores > threshold
    if not keep.any():
        keep[np.argsort(-scores, kind="stable")[:max(1, len(scores) // 2)]] = True
    return keep


def prepare_data(variant: Variant, train, validation, seed: int, mi_threshold: float, regression: bool = False):
    """The (x, y) pairs a variant trains and validates on; `regression`: y is a target, not a label."""
    (x_train, y_train), (x_val, y_val) = train, validation
    if variant.changes_features and issparse(x_train):
        raise PipelineError(f"the {variant.data} variant needs dense features; it does not run on sparse text features")
    rng = np.random.default_rng(seed)
    if variant.changes_features:
        kind = "zeros" if variant.data == "zero_channels" else "noise"
        x_train, x_val = add_channels(x_train, kind, rng), add_channels(x_val, kind, rng)
        if variant.data == "mi_selected":
            keep = mutual_information_mask(x_train, y_train, mi_threshold, seed, regression)
            x_train, x_val = x_train[:, keep], x_val[:, keep]
    if variant.data == "random_labels":
        y_train = rng.permutation(y_train)
    return (x_train, y_train), (x_val, y_val)


# ---- the sample (studies.<dataset>.max_examples) ---------------------------------------------

def sample_for_studies(train, validation, max_examples: Optional[int], seed: int, regression: bool = False,
                       key: str = "studies.max_examples") -> tuple:
    """(train, validation, sample): the studies' data when the training split has more than `max_examples`
    examples, else the splits whole (a streamed StoredRows loaded) and sample None.

    The training split is cut to a seeded sample of `max_examples` (stratified for classification, plain random
    for regression), the validation split to the same share of itself (rounded up), so the studies keep the
    protocol's ratio of validation to training examples. Rows are taken by index, dense, scipy sparse or streamed
    (read a block at a time) alike, in their original order. `sample` records the counts and `key`, the params
    key that set the size.
    """
    from stages.lib.artifacts import in_memory
    from stages.lib.splitting import sample_indices

    (x_train, y_train), (x_val, y_val) = train, validation
    n_train, n_val = len(y_train), len(y_val)
    if max_examples is None or n_train <= max_examples:
        return in_memory(train), in_memory(validation), None
    val_size = min(n_val, int(np.ceil(n_val * max_examples / n_train)))
    kept_train, train_stratified = sample_indices(y_train, max_examples, seed, not regression)
    kept_val, val_stratified = sample_indices(y_val, val_size, seed, not regression)
    sample = {"examples": int(max_examples), "sampled_from": int(n_train), "validation_examples": int(val_size),
              "validation_sampled_from": int(n_val), "stratified": bool(train_stratified and val_stratified),
              "key": key}
    return ((x_train[kept_train], np.asarray(y_train)[kept_train]), (x_val[kept_val], np.asarray(y_val)[kept_val]),
            sample)


def sample_sentence(sample: dict, regression: bool = False) -> str:
    """The sample in words, for the summary, the stage's output and the model card."""
    how = ("random" if regression else "stratified" if sample["stratified"] else
           "random (not stratified: a class, or the sample, is too small to stratify)")
    return (f"The studies ran on a seeded, {how} sample of {sample['examples']:,} of the {sample['sampled_from']:,} "
            f"training examples, validated on {sample['validation_examples']:,} of the "
            f"{sample['validation_sampled_from']:,} validation examples ({sample['key']}).")


# ---- verdicts -------------------------------------------------------------------------------

def _final(history: pd.DataFrame, column: str, last: int = 3) -> float:
    """The mean of the last epochs: steadier than the very last one."""
    return float(history[column].tail(last).mean())


def verdict_noise_channels(h, settings, form):
    if form == "regression":
        noise, zeros, selected = (_final(h[k], "val_mae") for k in ("noise_channels", "zero_channels", "mi_selected"))
        return {"val_mae_noise": noise, "val_mae_zeros": zeros, "val_mae_mi_selected": selected,
                "held": noise > zeros and selected <= (1 + RECOVERED_SHARE) * zeros}
    noise, zeros, selected = (_final(h[k], "val_accuracy") for k in ("noise_channels", "zero_channels", "mi_selected"))
    return {"val_accuracy_noise": noise, "val_accuracy_zeros": zeros, "val_accuracy_mi_selected": selected,
            "held": noise < zeros and selected >= zeros - settings.accuracy_tolerance}


def verdict_capacity(h, settings, form):
    best = {k: best_epoch(h[k], LOSS_CURVE) for k in ("small", "original", "large")}
    # Jaggedness: the mean size of the second difference, which a steady decline barely registers.
    roughness = {k: float(h[k]["val_loss"].diff().diff().abs().mean()) for k in ("small", "original", "large")}
    return {**{f"best_epoch_{k}": v for k, v in best.items()},
            **{f"val_loss_roughness_{k}": v for k, v in roughness.items()},
            "held": best["large"] <= best["original"] <= best["small"] and roughness["large"] >= roughness["original"]}


def _lower_final_loss(h, baseline, others, form):
    """The plain validation loss at the end (weight penalties excluded, PLAIN_LOSS) of each variant."""
    column = f"val_{PLAIN_LOSS[form]}"
    finals = {k: _final(h[k], column) for k in [baseline, *others]}
    return {**{f"final_{column}_{k}": v for k, v in finals.items()},
            "held": all(finals[k] < finals[baseline] for k in others)}


def verdict_weight_regularization(h, settings, form):
    return _lower_final_loss(h, "none", ["l2", "l1", "l1_l2"], form)


def verdict_dropout(h, settings, form):
    return _lower_final_loss(h, "none", ["dropout"], form)


def verdict_early_stopping(h, settings, form):
    stopped, full = h["early_stopping"], h["no_stopping"]
    best = best_epoch(stopped, LOSS_CURVE)
    restored, lowest = float(stopped["restored_val_loss"].iloc[-1]), float(stopped["val_loss"].min())
    tolerance = RESTORED_SHARE * lowest if form == "regression" else 1e-4
    return {"epochs_run": len(stopped), "epochs_full": len(full), "best_epoch": best,
            "restored_val_loss": restored, "min_val_loss": lowest,
            "held": len(stopped) < len(full) and len(stopped) - best <= stopped["patience"].iloc[-1]
            and abs(restored - lowest) < tolerance}


def verdict_random_labels(h, settings, form):
    history = h["random_labels"]
    falls = {"first_train_loss": float(history["loss"].iloc[0]), "final_train_loss": _final(history, "loss")}
    if form == "regression":
        mean_error = float(history["val_chance"].iloc[-1])
        final = _final(history, "val_mae")
        return {**falls, "final_val_mae": final, "mean_predictor_val_mae": mean_error,
                "held": falls["final_train_loss"] < falls["first_train_loss"]
                and final >= (1 - MEAN_PREDICTOR_SHARE) * mean_error}
    chance = float(history["chance"].iloc[-1])
    return {**falls, "final_val_accuracy": _final(history, "val_accuracy"), "chance_accuracy": chance,
            "held": _final(history, "loss") < history["loss"].iloc[0] and
            _final(history, "val_accuracy") <= chance + settings.chance_margin}


def verdict_learning_rate(h, settings, form):
    if form == "regression":
        high, sensible = _final(h["rate_1.0"], "mae"), _final(h["rate_0.01"], "mae")
        mean_error = float(h["rate_0.01"]["chance"].iloc[-1])
        line = (1 - MEAN_PREDICTOR_SHARE) * mean_error
        # `not high < line`: a run that diverged (NaN) is stuck too.
        return {"final_train_mae_rate_1.0": high, "final_train_mae_rate_0.01": sensible,
                "mean_predictor_train_mae": mean_error, "held": not high < line and sensible < line}
    high, sensible = _final(h["rate_1.0"], "accuracy"), _final(h["rate_0.01"], "accuracy")
    return {"final_train_accuracy_rate_1.0": high, "final_train_accuracy_rate_0.01": sensible,
            "held": high < 0.5 and sensible > 0.9}


def verdict_linear_capacity(h, settings, form):
    column, score = f"val_{PLAIN_LOSS[form]}", TRAINING_SCORE[form]

    def overfits(history):
        final, lowest = history[column].iloc[-1], history[column].min()
        return bool(final > (1 + settings.overfit_tolerance) * lowest)

    return {"best_epoch_linear": best_epoch(h["linear"], LOSS_CURVE),
            "best_epoch_mlp": best_epoch(h["mlp"], LOSS_CURVE),
            f"final_train_{score}_linear": _final(h["linear"], score),
            f"final_train_{score}_mlp": _final(h["mlp"], score),
            "linear_overfits": overfits(h["linear"]), "mlp_overfits": overfits(h["mlp"]),
            "held": not overfits(h["linear"]) and overfits(h["mlp"])}


def define_studies(settings, form: str = "classification") -> dict:
    """The eight studies in their `form` (study_form), sized from params (the `studies` section of the current
    dataset)."""
    base = tuple(settings.units)
    regression = form == "regression"
    studies = [
        Study("noise_channels",
              "Noise channels end with a higher validation MAE than zero channels; keeping the features whose "
              "mutual information with the target passes a threshold recovers the zero-channel level (within "
              f"{RECOVERED_SHARE:.0%} of its MAE)." if regression else
              "Noise channels end lower in validation accuracy than zero channels; keeping the features whose "
              "mutual information with the label passes a threshold recovers the zero-channel level.",
              [Variant("noise_channels", base, data="noise_channels"), Variant("zero_channels", base, data="zero_channels"),
               Variant("mi_selected", base, data="mi_selected")], verdict_noise_channels),
        Study("capacity", "A larger model overfits sooner (earlier best validation epoch), with a noisier validation curve.",
              [Variant("small", tuple(settings.capacity_small)), Variant("original", base),
               Variant("large", tuple(settings.capacity_large))], verdict_capacity),
        Study("weight_regularization", "L2, L1 and L1+L2 weight penalties end with a lower validation "
              f"{'MAE' if regression else 'loss'} than none.",
              [Variant("none", base), Variant("l2", base, l2=settings.l2), Variant("l1", base, l1=settings.l1),
               Variant("l1_l2", base, l1=settings.l1, l2=settings.l2)], verdict_weight_regularization),
        Study("dropout", f"Dropout ends with a lower validation {'MAE' if regression else 'loss'} than none.",
              [Variant("none", base), Variant("dropout", base, dropout=settings.dropout)], verdict_dropout),
        Study("early_stopping", "Early stopping halts near the best validation epoch and restores its weights.",
              [Variant("early_stopping", base, patience=settings.patience), Variant("no_stopping", base)],
              verdict_early_stopping),
        Study("random_labels", "With shuffled targets the training loss still falls while the validation MAE stays "
              "at the mean predictor's: the model memorizes." if regression else
              "With shuffled labels the training loss still falls while validation accuracy "
              "stays at chance: the model memorizes.", [Variant("random_labels", base, data="random_labels")],
              verdict_random_labels),
        Study("learning_rate", "RMSprop with learning rate 1.0 gets stuck at the mean predictor's training MAE; "
              "1e-2 trains below it." if regression else "RMSprop with learning rate 1.0 gets stuck; 1e-2 trains.",
              [Variant("rate_1.0", base, learning_rate=1.0), Variant("rate_0.01", base, learning_rate=1e-2)],
              verdict_learning_rate),
        Study("linear_capacity", "A linear model (too little capacity) cannot overfit; a model with enough can.",
              [Variant("linear", ()), Variant("mlp", base)], verdict_linear_capacity),
    ]
    return {study.name: replace(study, form=form) for study in studies}


def verdict_word(verdict: dict) -> str:
    return {True: "held", False: "did not hold", None: "not applicable"}[verdict["held"]]


def as_targets(task: Task, y: np.ndarray) -> np.ndarray:
    """Labels shaped like the model's output: a sigmoid's (n, 1) column for a binary task. Keras'
    cross-entropy metric, unlike the loss, refuses labels of shape (n,) against it."""
    return y.reshape(-1, 1) if task.output_units == 1 else y


def run_study(study: Study, task: Task, train, validation, settings, seed: int, indexed=None) -> tuple:
    """Train every variant; returns (histories by variant, verdict dict), the verdict with the `form` that ran.
    `indexed`: the features' indexed columns (artifacts.read_indexed), or None.

    A study whose variants change the features cannot run on sparse text features (doubling
    IMDB's 10,000 multi-hot columns with dense noise would not fit the memory budget), nor on a table's
    indexed category columns (selecting columns by mutual information would take indices for numbers);
    the verdict is then `held: null` with the reason.
    """
    from stages.lib.baselines import chance_level
    from stages.lib.models import fit_mlp

    if study.form != study_form(task):
        raise PipelineError(f"the {study.form} form of study {study.name} cannot run on a {study_form(task)} task")
    if (issparse(train[0]) or indexed) and any(v.changes_features for v in study.variants):
        reason = ("its variants change the features, which needs dense features, not sparse text" if issparse(train[0])
                  else "its variants change the features, which needs numbers, not indexed categories")
        return {}, {"claim": study.claim, "form": study.form, "held": None, "not_applicable": reason}
    histories = {}
    for variant in study.variants:
        print(f"study {study.name}: variant {variant.name}", flush=True)  # a spawned process buffers it otherwise
        (x_train, y_train), (x_val, y_val) = prepare_data(variant, train, validation, seed, settings.mi_threshold,
                                                          task.is_regression)
        training = settings.model_copy(update={"learning_rate": variant.learning_rate or settings.learning_rate})
        model, history = fit_mlp(task, (x_train, as_targets(task, y_train)), (x_val, as_targets(task, y_val)),
                                 training, seed, list(variant.units), l1=variant.l1, l2=variant.l2,
                                 dropout=variant.dropout, patience=variant.patience, verbose=0, cross_entropy=True,
                                 monitor=LOSS_CURVE, indexed=indexed)
        restored = (float(model.evaluate(x_val, as_targets(task, y_val), verbose=0)[0]) if variant.patience
                    else float("nan"))
        # chance: the training score of guessing (for regression the mean predictor's training MAE); val_chance,
        # for regression, the mean predictor's validation MAE.
        levels = {"chance": chance_level(task, y_train)}
        if task.is_regression:
            levels["val_chance"] = float(np.mean(np.abs(np.asarray(y_val) - np.mean(y_train))))
        histories[variant.name] = history.assign(restored_val_loss=restored, patience=variant.patience or 0, **levels)
    verdict = study.verdict(histories, settings, study.form)
    # A plain bool: numpy's np.True_ `is not True`, and the seed counts downstream test identity.
    return histories, {"claim": study.claim, "form": study.form, **verdict, "held": bool(verdict["held"])}


# What each form reads, for the summary's readers.
FORM_NOTES = {
    "classification": "classification: the book's claims as stated for classifiers (validation accuracy, the plain "
                      "validation cross-entropy, chance).",
    "regression": "regression: the validation MAE stands where the classification form reads accuracy or the plain "
                  "cross-entropy, and the mean predictor's MAE where it reads chance; shares of an error stand for "
                  f"points of accuracy ({RECOVERED_SHARE:.0%} of the zero channels' MAE counts as recovered, "
                  f"{MEAN_PREDICTOR_SHARE:.0%} below the mean predictor's as at its level).",
}


def count_line(verdicts: dict) -> str:
    """How many claims held, did not hold and were not applicable, e.g. "6 held, 1 did not hold, 1 not applicable"."""
    words = [verdict_word(verdict) for verdict in verdicts.values()]
    return ", ".join(f"{words.count(word)} {word}" for word in ("held", "did not hold", "not applicable"))


def studies_sample(verdicts: dict) -> Optional[dict]:
    """The sample the studies ran on (sample_for_studies' record in each verdict), None when they saw every example."""
    return next((verdict["sample"] for verdict in verdicts.values() if "sample" in verdict), None)


def summary_markdown(dataset: str, verdicts: dict) -> str:
    """A table: study, the book's claim, the numbers measured, and whether the claim held; which form ran, the
    sample when the studies ran on one, and the count of each verdict."""
    forms = sorted({verdict["form"] for verdict in verdicts.values()})
    sample = studies_sample(verdicts)
    lines = [f"# Chapter 5 studies on `{dataset}`", "",
             "Each row is a claim of Deep Learning with Python, ch. 5, tested by training its variants on this "
             "task's training split and watching the validation split. Regenerate with `dvc repro studies`.", "",
             *([sample_sentence(sample, forms == ["regression"]), ""] if sample else []),
             *(f"Form: {FORM_NOTES[form]}" for form in forms), "", f"{count_line(verdicts)}.", ""]
    rows = []
    for name, verdict in verdicts.items():
        measured = ", ".join(f"{k} {_format(v)}" for k, v in verdict.items()
                             if k not in ("claim", "form", "held", "sample"))
        word = verdict_word(verdict)
        rows.append([name, verdict["claim"], measured, word if verdict["held"] else f"**{word}**"])
    return "\n".join([*lines, markdown.table(["study", "claim", "measured", "verdict"], rows)]) + "\n"


def _format(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
