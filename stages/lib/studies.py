"""The chapter 5 studies: each trains a few variants and checks one claim of the book.

A study is a list of variants (a model and, where the study needs it, a change to the data)
and a verdict: a pure function from the variants' per-epoch histories to what was measured
and whether the book's claim held. Everything here but `run_study` is free of TensorFlow.
"""
from dataclasses import dataclass, field
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
    verdict: Callable = field(repr=False)


# ---- data changes -------------------------------------------------------------------------

def add_channels(x: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Double the feature count with uniform noise in [0, 1) or with zeros (the book's MNIST set-up)."""
    extra = rng.random(x.shape, dtype=np.float32) if kind == "noise" else np.zeros_like(x)
    return np.concatenate([x, extra], axis=1)


def mutual_information_mask(x_train: np.ndarray, y_train: np.ndarray, threshold: float, seed: int) -> np.ndarray:
    """Features whose mutual information with the label (on training data only) exceeds `threshold`.

    When none does (a rare class carries little information: a 1:20 label has 0.19 nats in all), the
    half with the most, as many features as there were before the channels doubled them.
    """
    from sklearn.feature_selection import mutual_info_classif

    scores = mutual_info_classif(x_train, y_train, random_state=seed)
    keep = scores > threshold
    if not keep.any():
        keep[np.argsort(-scores, kind="stable")[:max(1, len(scores) // 2)]] = True
    return keep


def prepare_data(variant: Variant, train, validation, seed: int, mi_threshold: float):
    """The (x, y) pairs a variant trains and validates on."""
    (x_train, y_train), (x_val, y_val) = train, validation
    if variant.changes_features and issparse(x_train):
        raise PipelineError(f"the {variant.data} variant needs dense features; it does not run on sparse text features")
    rng = np.random.default_rng(seed)
    if variant.changes_features:
        kind = "zeros" if variant.data == "zero_channels" else "noise"
        x_train, x_val = add_channels(x_train, kind, rng), add_channels(x_val, kind, rng)
        if variant.data == "mi_selected":
            keep = mutual_information_mask(x_train, y_train, mi_threshold, seed)
            x_train, x_val = x_train[:, keep], x_val[:, keep]
    if variant.data == "random_labels":
        y_train = rng.permutation(y_train)
    return (x_train, y_train), (x_val, y_val)


# ---- verdicts -------------------------------------------------------------------------------

def _final(history: pd.DataFrame, column: str, last: int = 3) -> float:
    """The mean of the last epochs: steadier than the very last one."""
    return float(history[column].tail(last).mean())


def verdict_noise_channels(h, settings):
    noise, zeros, selected = (_final(h[k], "val_accuracy") for k in ("noise_channels", "zero_channels", "mi_selected"))
    return {"val_accuracy_noise": noise, "val_accuracy_zeros": zeros, "val_accuracy_mi_selected": selected,
            "held": noise < zeros and selected >= zeros - settings.accuracy_tolerance}


def verdict_capacity(h, settings):
    best = {k: best_epoch(h[k], LOSS_CURVE) for k in ("small", "original", "large")}
    # Jaggedness: the mean size of the second difference, which a steady decline barely registers.
    roughness = {k: float(h[k]["val_loss"].diff().diff().abs().mean()) for k in ("small", "original", "large")}
    return {**{f"best_epoch_{k}": v for k, v in best.items()},
            **{f"val_loss_roughness_{k}": v for k, v in roughness.items()},
            "held": best["large"] <= best["original"] <= best["small"] and roughness["large"] >= roughness["original"]}


def _lower_final_loss(h, baseline, others):
    """Plain validation cross-entropy at the end (weight penalties excluded) of each variant."""
    finals = {k: _final(h[k], "val_cross_entropy") for k in [baseline, *others]}
    return {**{f"final_val_cross_entropy_{k}": v for k, v in finals.items()},
            "held": all(finals[k] < finals[baseline] for k in others)}


def verdict_weight_regularization(h, settings):
    return _lower_final_loss(h, "none", ["l2", "l1", "l1_l2"])


def verdict_dropout(h, settings):
    return _lower_final_loss(h, "none", ["dropout"])


def verdict_early_stopping(h, settings):
    stopped, full = h["early_stopping"], h["no_stopping"]
    best = best_epoch(stopped, LOSS_CURVE)
    return {"epochs_run": len(stopped), "epochs_full": len(full), "best_epoch": best,
            "restored_val_loss": float(stopped["restored_val_loss"].iloc[-1]),
            "min_val_loss": float(stopped["val_loss"].min()),
            "held": len(stopped) < len(full) and len(stopped) - best <= stopped["patience"].iloc[-1]
            and abs(stopped["restored_val_loss"].iloc[-1] - stopped["val_loss"].min()) < 1e-4}


def verdict_random_labels(h, settings):
    history = h["random_labels"]
    chance = float(history["chance"].iloc[-1])
    return {"first_train_loss": float(history["loss"].iloc[0]), "final_train_loss": _final(history, "loss"),
            "final_val_accuracy": _final(history, "val_accuracy"), "chance_accuracy": chance,
            "held": _final(history, "loss") < history["loss"].iloc[0] and
            _final(history, "val_accuracy") <= chance + settings.chance_margin}


def verdict_learning_rate(h, settings):
    high, sensible = _final(h["rate_1.0"], "accuracy"), _final(h["rate_0.01"], "accuracy")
    return {"final_train_accuracy_rate_1.0": high, "final_train_accuracy_rate_0.01": sensible,
            "held": high < 0.5 and sensible > 0.9}


def verdict_linear_capacity(h, settings):
    def overfits(history):
        final, lowest = history["val_cross_entropy"].iloc[-1], history["val_cross_entropy"].min()
        return bool(final > (1 + settings.overfit_tolerance) * lowest)

    return {"best_epoch_linear": best_epoch(h["linear"], LOSS_CURVE),
            "best_epoch_mlp": best_epoch(h["mlp"], LOSS_CURVE),
            "final_train_accuracy_linear": _final(h["linear"], "accuracy"),
            "final_train_accuracy_mlp": _final(h["mlp"], "accuracy"),
            "linear_overfits": overfits(h["linear"]), "mlp_overfits": overfits(h["mlp"]),
            "held": not overfits(h["linear"]) and overfits(h["mlp"])}


def define_studies(settings) -> dict:
    """The eight studies, sized from params (the `studies` section of the current dataset)."""
    base = tuple(settings.units)
    return {study.name: study for study in [
        Study("noise_channels",
              "Noise channels end lower in validation accuracy than zero channels; keeping the features whose "
              "mutual information with the label passes a threshold recovers the zero-channel level.",
              [Variant("noise_channels", base, data="noise_channels"), Variant("zero_channels", base, data="zero_channels"),
               Variant("mi_selected", base, data="mi_selected")], verdict_noise_channels),
        Study("capacity", "A larger model overfits sooner (earlier best validation epoch), with a noisier validation curve.",
              [Variant("small", tuple(settings.capacity_small)), Variant("original", base),
               Variant("large", tuple(settings.capacity_large))], verdict_capacity),
        Study("weight_regularization", "L2, L1 and L1+L2 weight penalties end with a lower validation loss than none.",
              [Variant("none", base), Variant("l2", base, l2=settings.l2), Variant("l1", base, l1=settings.l1),
               Variant("l1_l2", base, l1=settings.l1, l2=settings.l2)], verdict_weight_regularization),
        Study("dropout", "Dropout ends with a lower validation loss than none.",
              [Variant("none", base), Variant("dropout", base, dropout=settings.dropout)], verdict_dropout),
        Study("early_stopping", "Early stopping halts near the best validation epoch and restores its weights.",
              [Variant("early_stopping", base, patience=settings.patience), Variant("no_stopping", base)],
              verdict_early_stopping),
        Study("random_labels", "With shuffled labels the training loss still falls while validation accuracy "
              "stays at chance: the model memorizes.", [Variant("random_labels", base, data="random_labels")],
              verdict_random_labels),
        Study("learning_rate", "RMSprop with learning rate 1.0 gets stuck; 1e-2 trains.",
              [Variant("rate_1.0", base, learning_rate=1.0), Variant("rate_0.01", base, learning_rate=1e-2)],
              verdict_learning_rate),
        Study("linear_capacity", "A linear model (too little capacity) cannot overfit; a model with enough can.",
              [Variant("linear", ()), Variant("mlp", base)], verdict_linear_capacity),
    ]}


def verdict_word(verdict: dict) -> str:
    return {True: "held", False: "did not hold", None: "not applicable"}[verdict["held"]]


def as_targets(task: Task, y: np.ndarray) -> np.ndarray:
    """Labels shaped like the model's output: a sigmoid's (n, 1) column for a binary task. Keras'
    cross-entropy metric, unlike the loss, refuses labels of shape (n,) against it."""
    return y.reshape(-1, 1) if task.output_units == 1 else y


def run_study(study: Study, task: Task, train, validation, settings, seed: int) -> tuple:
    """Train every variant; returns (histories by variant, verdict dict).

    A study whose variants change the features cannot run on sparse text features (doubling
    IMDB's 10,000 multi-hot columns with dense noise would not fit the memory budget), and
    no study applies to regression; the verdict is then `held: null` with the reason.
    """
    from stages.lib.baselines import chance_level
    from stages.lib.models import fit_mlp

    if task.is_regression:
        return {}, {"claim": study.claim, "held": None,
                    "not_applicable": "the chapter 5 claims are about classifiers (accuracy, chance level)"}
    if issparse(train[0]) and any(v.changes_features for v in study.variants):
        return {}, {"claim": study.claim, "held": None,
                    "not_applicable": "its variants change the features, which needs dense features, not sparse text"}
    histories = {}
    for variant in study.variants:
        print(f"study {study.name}: variant {variant.name}", flush=True)  # a spawned process buffers it otherwise
        (x_train, y_train), (x_val, y_val) = prepare_data(variant, train, validation, seed, settings.mi_threshold)
        training = settings.model_copy(update={"learning_rate": variant.learning_rate or settings.learning_rate})
        model, history = fit_mlp(task, (x_train, as_targets(task, y_train)), (x_val, as_targets(task, y_val)),
                                 training, seed, list(variant.units), l1=variant.l1, l2=variant.l2,
                                 dropout=variant.dropout, patience=variant.patience, verbose=0, cross_entropy=True,
                                 monitor=LOSS_CURVE)
        restored = (float(model.evaluate(x_val, as_targets(task, y_val), verbose=0)[0]) if variant.patience
                    else float("nan"))
        histories[variant.name] = history.assign(restored_val_loss=restored, patience=variant.patience or 0,
                                                 chance=chance_level(task, y_train))
    verdict = study.verdict(histories, settings)
    # A plain bool: numpy's np.True_ `is not True`, and the seed counts downstream test identity.
    return histories, {"claim": study.claim, **verdict, "held": bool(verdict["held"])}


def summary_markdown(dataset: str, verdicts: dict) -> str:
    """A table: study, the book's claim, the numbers measured, and whether the claim held."""
    lines = [f"# Chapter 5 studies on `{dataset}`", "",
             "Each row is a claim of Deep Learning with Python, ch. 5, tested by training its variants on this "
             "task's training split and watching the validation split. Regenerate with `dvc repro studies`.", ""]
    rows = []
    for name, verdict in verdicts.items():
        measured = ", ".join(f"{k} {_format(v)}" for k, v in verdict.items() if k not in ("claim", "held"))
        word = verdict_word(verdict)
        rows.append([name, verdict["claim"], measured, word if verdict["held"] else f"**{word}**"])
    return "\n".join([*lines, markdown.table(["study", "claim", "measured", "verdict"], rows)]) + "\n"


def _format(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
