"""The model card: one self-contained HTML page that explains a run to people, in the sections of
Model Cards (Mitchell et al., 2019) adapted to the universal workflow, built only from the files the
pipeline writes. Every image is inline (base64 PNG) and every style in the page: it opens offline.

`gather` reads the reports into plain values, `render` fills the Jinja2 template (autoescaped: class
names, texts and table cells come from the user's data). Optional inputs (export, optimize, studies,
a git history, dvc.lock) that are missing become a sentence, not an error.
"""
import base64
import contextlib
import json
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from stages.lib import environment, paths
from stages.lib.errors import PipelineError
from stages.lib.export import checked_examples
from stages.lib.intervals import with_interval
from stages.lib.kinds import kind_named, read_raw
from stages.lib.task import Task, read_task

TEMPLATE = "model_card.html.j2"
TEMPLATES_DIR = Path(__file__).parent / "templates"
WORST_EXAMPLES = 6
TEXT_CHARACTERS = 300  # a quoted text is cut after this many characters
TABLE_COLUMNS = 12  # a table row shows its first columns
# The stages whose results the card shows, for the dvc.lock check (their upstream stages come with them).
SHOWN_STAGES = ("evaluate", "export", "optimize", "studies")
PROTOCOL_NAMES = {"kfold": "K-fold", "iterated_kfold": "iterated K-fold"}
METRIC_NAMES = {"accuracy": "accuracy", "pr_auc": "PR-AUC", "roc_auc": "ROC AUC", "f1": "F1", "precision": "precision",
                "recall": "recall", "log_loss": "log loss", "mae": "MAE", "mse": "MSE", "rmse": "RMSE", "r2": "R²"}


def fmt(value) -> str:
    """A number as the project prints scores (4 significant digits); anything else as it is."""
    if isinstance(value, (float, np.floating)):
        return f"{value:,.0f}" if 1e4 <= abs(value) < 1e15 else f"{value:.4g}"  # a price reads 38,496, not 3.85e+04
    return str(value)


def p_value(p: float) -> str:
    return "p < 1e-6" if p < 1e-6 else f"p = {p:.3g}"


def metric_name(metric: str) -> str:
    return METRIC_NAMES.get(metric, metric)


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def class_names(task: Task, manifest: dict) -> dict:
    """Class code -> the name a person knows it by (the table's or texts' label, else the code)."""
    names = manifest.get("class_names") or []
    return {code: str(names[code]) if code < len(names) else str(code) for code in task.classes}


# The task

def metric_reason(task: Task) -> str:
    """Why the primary metric fits the task, in plain words."""
    if task.is_regression:
        return ("MAE, the mean absolute error, is in the target's own units and reads as the typical size of a "
                "mistake; lower is better. The baseline always predicts the training mean.")
    ratio = task.class_ratio
    if task.balanced:
        return (f"The classes are about balanced (the largest is {ratio:.3g} times the smallest), so accuracy, "
                "the share of correct answers, is meaningful; the baseline always predicts the most frequent class.")
    return (f"The classes are imbalanced (the largest is {ratio:.3g} times the smallest): always predicting the "
            "majority class would already score a high accuracy. PR-AUC (average precision) measures instead how "
            "well the model ranks the examples of the rarer class first; the baseline predicts the class rates.")


def describe_task(task: Task, manifest: dict) -> dict:
    names = class_names(task, manifest)
    if task.is_regression:
        summary = manifest.get("target_summary", {})
        target = f" in the column {manifest['target']!r}" if manifest.get("target") else ""
        what = f"Predict a number{target} for each example: a regression."
        if summary:
            what += f" In the data it ranges from {fmt(summary['min'])} to {fmt(summary['max'])}."
    else:
        kind = "two" if task.n_classes == 2 else str(task.n_classes)
        what = f"Sort each example into one of {kind} classes: {', '.join(names.values())}."
        if task.positive_class is not None:
            what += f" Precision and recall are about the class {names.get(task.positive_class)}."
    return {"dataset": manifest.get("dataset", task.dataset), "kind": manifest.get("kind"),
            "problem_type": task.problem_type.replace("_", " "), "what": what,
            "metric": metric_name(task.primary_metric), "reason": metric_reason(task),
            "secondary": [metric_name(m) for m in task.secondary_metrics],
            "last_layer": task.last_layer_activation or "none (a linear output)", "loss": task.loss}


# The data

def describe_data(task: Task, manifest: dict, split: dict, validation: dict, results: list, test_actual) -> dict:
    names = class_names(task, manifest)
    balance = []
    if manifest.get("class_counts"):
        counts = {int(code): n for code, n in manifest["class_counts"].items()}
        total = sum(counts.values())
        in_test = pd.Series(np.asarray(test_actual)).value_counts()
        balance = [{"name": names.get(code, str(code)), "count": n, "share": f"{n / total:.1%}",
                    "width": round(100 * n / max(counts.values())), "test": int(in_test.get(code, 0))}
                   for code, n in sorted(counts.items())]
    folds = split.get("folds", [])
    protocol = split.get("protocol", "unknown")
    if split.get("time_ordered"):
        how = "ordered by time: the test split is the latest examples, never shuffled"
    else:
        how = "shuffled and stratified by class" if split.get("shuffle") else "in file order, not shuffled"
    protocol_text = (f"{len(split.get('test', []))} examples held out for the test first ({how}); the "
                     f"{len(split.get('development', []))} others are the development data")
    if protocol == "holdout" and folds:
        protocol_text += (f", {len(folds[0]['train'])} for training and {len(folds[0]['validation'])} for "
                          "validation (holdout)")
    elif folds:
        protocol_text += (f", split by {PROTOCOL_NAMES.get(protocol, protocol)} into {len(folds)} folds (fold 0: "
                          f"{len(folds[0]['train'])} for training, {len(folds[0]['validation'])} for validation)")
    protocol_text += ". The test split is scored once, by evaluate; every choice before it used validation only."
    return {"source": manifest.get("source"), "sha256": manifest.get("sha256"), "file": manifest.get("file"),
            "file_sha256": manifest.get("file_sha256"), "examples": manifest.get("examples"),
            "duplicates_removed": manifest.get("duplicates_removed", 0),
            "rows_without_target": manifest.get("rows_without_target_dropped", 0),
            "empty_texts": manifest.get("empty_texts_dropped", 0),
            "repeats_kept": manifest.get("repeats_kept", 0),
            "excluded": manifest.get("excluded") or {}, "balance": balance,
            "target_summary": {k: fmt(v) for k, v in (manifest.get("target_summary") or {}).items()},
            "protocol": protocol_text, "validation": validation_verdicts(validation, results)}


def validation_verdicts(validation: dict, results: list) -> dict:
    """validate's verdict with its numbers, and each group of expectations (representativeness, leakage,
    drift, ...) passed, failed or only reported."""
    groups = {}
    for result in results:
        group = groups.setdefault(result["suite"], {"suite": result["suite"].replace("_", " "), "passed": 0,
                                                    "failed": [], "reported": []})
        if result["success"]:
            group["passed"] += 1
        else:
            group["reported" if result.get("severity") == "warning" else "failed"].append(result["expectation"])
    numbers = [(label, fmt(validation[key])) for key, label in (
        ("expectations", "expectations checked"), ("failed_expectations", "failed"),
        ("reported_expectations", "reported only (warnings)"), ("missing_values", "missing values"),
        ("cross_split_duplicates", "examples in two splits (leakage)"),
        ("max_class_proportion_gap", "largest gap in a class's share between splits (representativeness)"),
        ("max_js_divergence", "largest Jensen-Shannon divergence of a feature between splits (drift)"),
        ("drifted_features", "drifted features")) if key in validation]
    return {"success": validation.get("success"), "numbers": numbers, "groups": list(groups.values())}


# Chapter 5: baseline, a model that overfits, regularization

def describe_story(task: Task, baseline: dict, overfit: dict, regularize: dict, candidate: dict,
                   candidate_histories: Optional[pd.DataFrame], studies: dict) -> dict:
    from stages.lib.baselines import best_baseline
    from stages.lib.studies import sample_sentence, studies_sample, verdict_word

    metric = task.primary_metric
    best = best_baseline(baseline, metric, task.greater_is_better)
    baseline_text = (f"The best trivial baseline, {best}, scores {metric_name(metric)} "
                     f"{fmt(baseline[best]['validation_mean'][metric])} on validation: the bar to clear.")
    mean = overfit.get("mean", {})
    epochs = int(mean.get("epochs", 0))
    if overfit.get("training_failed"):
        diagnosis = "Training failed: the training loss did not fall. The model cannot learn this data as set up."
    elif overfit.get("overfit"):
        diagnosis = (f"It overfits, as it should: the validation loss was lowest at epoch "
                     f"{fmt(mean.get('best_val_loss_epoch'))} of {epochs}, then rose while the training loss kept "
                     f"falling (training loss {fmt(mean.get('final_train_loss'))} at the end, validation "
                     f"{fmt(mean.get('final_val_loss'))}). The model has more capacity than the data needs.")
    else:
        diagnosis = (f"It did not overfit within {epochs} epochs (validation loss lowest at epoch "
                     f"{fmt(mean.get('best_val_loss_epoch'))}): more capacity or epochs could still help.")
    if overfit.get("folds", 1) > 1:
        diagnosis += f" Overfitting seen in {overfit.get('overfit_folds')} of {overfit['folds']} folds (means shown)."
    candidates = []
    for name, scores in regularize.get("candidates", {}).items():
        candidates.append({"name": name, "kept": name == candidate.get("name"),
                           "score": with_interval(scores[f"val_{metric}_mean"], scores[f"val_{metric}_ci_low"],
                                                  scores[f"val_{metric}_ci_high"]),
                           "std": fmt(scores[f"val_{metric}_std"]),
                           "epochs": fmt(scores.get("val_epochs_trained_mean", float("nan")))})
    settings = ", ".join(f"{key} {value}" for key, value in candidate.items()
                         if key not in ("name", "selected_by") and value not in (None, 0, 0.0))
    figure = None
    if candidate_histories is not None and f"val_{task.training_metric}" in candidate_histories:
        from stages.lib.plots import candidate_curves_png

        figure = data_uri(candidate_curves_png(candidate_histories, task.training_metric))
    # form: which form of the study ran (classification or regression); a study that could not run says why.
    held = [{"name": name, "claim": study.get("claim", ""), "form": study.get("form", ""),
             "verdict": verdict_word(study) + (f": {study['not_applicable']}" if "not_applicable" in study else "")}
            for name, study in studies.items()]
    # The sample the studies ran on (studies.<dataset>.max_examples), None when they saw every example.
    sample = studies_sample(studies)
    return {"baseline": baseline_text, "diagnosis": diagnosis, "candidates": candidates,
            "kept": candidate.get("name"), "kept_settings": settings, "folds": regularize.get("folds"),
            "metric": metric_name(metric), "candidate_figure": figure, "studies": held,
            "studies_sample": sample_sentence(sample, task.is_regression) if sample else None}


# The test

def headline(task: Task, evaluation: dict) -> dict:
    """The primary test score with its 95% interval, as the stages print it."""
    metric = task.primary_metric
    key = f"test_{metric}"
    if key not in evaluation:
        raise PipelineError(f"{paths.EVALUATE_METRICS} has no {key}: rebuild it with `dvc repro evaluate`")
    return {"metric": metric_name(metric), "key": key,
            "text": with_interval(evaluation[key], evaluation[f"{key}_ci_low"], evaluation[f"{key}_ci_high"])}


def _with_interval(scores: dict, key: str) -> str:
    if f"{key}_ci_low" in scores:
        return with_interval(scores[key], scores[f"{key}_ci_low"], scores[f"{key}_ci_high"])
    return fmt(scores.get(key, ""))


def test_scores(evaluation: dict) -> list:
    """Every test score of the model next to the overfit model's and the baseline's, each with its interval,
    and its spread across seeds when evaluate.seeds measured it."""
    keys = [key for key in evaluation if key.startswith("test_")
            and not key.endswith(("_ci_low", "_ci_high", "_seed_mean", "_seed_std"))]
    return [{"metric": metric_name(key[len("test_"):]), "model": _with_interval(evaluation, key),
             "overfit": _with_interval(evaluation.get("overfit", {}), key),
             "baseline": _with_interval(evaluation.get("baseline", {}), key),
             "last_value": _with_interval(evaluation.get("last_value", {}), key),
             "seeds": (f"{fmt(evaluation[key + '_seed_mean'])} ± {fmt(evaluation[key + '_seed_std'])}"
                       if f"{key}_seed_mean" in evaluation else "")} for key in keys]


def confusion(task: Task, predictions: pd.DataFrame, names: dict) -> dict:
    """The confusion matrix (rows actual, columns predicted), each class's error rate (worst first) and the
    most frequent mistakes."""
    classes = list(task.classes)
    actual, predicted = predictions["actual"].to_numpy(), predictions["predicted"].to_numpy()
    matrix = pd.crosstab(pd.Categorical(actual, classes), pd.Categorical(predicted, classes), dropna=False)
    rows = [{"name": names[c], "cells": [{"count": int(matrix.loc[c, p]), "diagonal": c == p} for p in classes]}
            for c in classes]
    per_class = []
    for c in classes:
        n = int((actual == c).sum())
        wrong = int(((actual == c) & (predicted != c)).sum())
        per_class.append({"name": names[c], "examples": n, "wrong": wrong,
                          "error": wrong / n if n else 0.0, "error_text": f"{wrong / n:.1%}" if n else "no example"})
    per_class.sort(key=lambda row: (-row["error"], -row["wrong"]))
    pairs = (pd.DataFrame({"actual": actual, "predicted": predicted})[actual != predicted]
             .value_counts().head(5))
    mistakes = [{"actual": names[a], "predicted": names[p], "count": int(n)} for (a, p), n in pairs.items()]
    return {"columns": [names[c] for c in classes], "rows": rows, "per_class": per_class, "mistakes": mistakes}


def error_by_range(predictions: pd.DataFrame, bins: int = 5) -> list:
    """MAE of the test examples in each quantile range of the actual value, largest first."""
    frame = predictions.assign(error=(predictions["actual"] - predictions["predicted"]).abs())
    ranges = pd.qcut(frame["actual"], q=min(bins, frame["actual"].nunique()), duplicates="drop")
    grouped = frame.groupby(ranges, observed=True)["error"].agg(["mean", "count"])
    rows = [{"range": f"{fmt(interval.left)} to {fmt(interval.right)}", "examples": int(row["count"]),
             "mae": fmt(row["mean"]), "value": float(row["mean"])} for interval, row in grouped.iterrows()]
    return sorted(rows, key=lambda row: -row["value"])


def worst_examples(task: Task, predictions: pd.DataFrame, count: int = WORST_EXAMPLES) -> pd.DataFrame:
    """The test examples the model got most wrong: the lowest probability given to the actual class (wrong
    ones first), or the largest absolute error. Adds the column `measure` it ranked them by."""
    if task.is_regression:
        ranked = predictions.assign(measure=(predictions["actual"] - predictions["predicted"]).abs())
        return ranked.sort_values("measure", ascending=False, kind="stable").head(count)
    if "output" in predictions:  # a sigmoid: the probability of class 1
        probability = np.where(predictions["actual"] == 1, predictions["output"], 1 - predictions["output"])
    else:
        columns = [f"output_{task.classes.index(int(a))}" for a in predictions["actual"]]
        probability = predictions.to_numpy()[np.arange(len(predictions)),
                                              [predictions.columns.get_loc(c) for c in columns]].astype(float)
    ranked = predictions.assign(measure=probability, right=predictions["actual"] == predictions["predicted"])
    return ranked.sort_values(["right", "measure"], kind="stable").head(count)


def shown(view: dict) -> dict:
    """An example as the data's kind views it (Kind.example_view), laid out for the page: an image drawn
    inline, a text cut, a table row's first columns with their values as the card prints numbers."""
    if "pixels" in view:
        from stages.lib.plots import image_png

        return {"image": data_uri(image_png(view["pixels"]))}
    if "text" in view:
        text = view["text"]
        return {"text": text if len(text) <= TEXT_CHARACTERS else text[:TEXT_CHARACTERS] + " …"}
    cells = [(str(column), "" if pd.isna(value) else fmt(value)) for column, value in view["cells"]]
    more = len(cells) - TABLE_COLUMNS
    return {"cells": cells[:TABLE_COLUMNS], "more": more if more > 0 else 0}


def describe_worst(task: Task, predictions: pd.DataFrame, names: dict, kind: str, x) -> list:
    rows = []
    for _, example in worst_examples(task, predictions).iterrows():
        index = int(example["example"])
        if task.is_regression:
            outcome = (f"actual {fmt(float(example['actual']))}, predicted {fmt(float(example['predicted']))} "
                       f"(off by {fmt(float(example['measure']))})")
        else:
            outcome = (f"actual {names[int(example['actual'])]}, predicted {names[int(example['predicted'])]}; "
                       f"probability given to the actual class {float(example['measure']):.3f}")
        view = shown(kind_named(kind).example_view(x, index)) if x is not None and index < len(x) else {}
        rows.append({"example": index, "outcome": outcome, "image": None, "text": None, "cells": None, "more": 0,
                     **view})
    return rows


def last_value_note(task: Task, evaluation: dict):
    """Whether the model beats the last known value on the test period (time-ordered splits only; else None)."""
    if "last_value" not in evaluation:
        return None
    metric = task.primary_metric
    model, last = evaluation[f"test_{metric}"], evaluation["last_value"][f"test_{metric}"]
    loses = model < last if task.greater_is_better else model > last
    return {"loses": loses, "text": (
        f"The model {'loses to' if loses else 'beats'} the last known value on the test period: "
        f"{metric_name(metric)} {fmt(model)} against {fmt(last)} for predicting the last training target"
        + (": a forecaster would do better keeping today's value." if loses else "."))}


def describe_test(task: Task, evaluation: dict, predictions: pd.DataFrame, names: dict, kind: str, x,
                  figures: dict) -> dict:
    metric = task.primary_metric
    validation, gain = None, None
    if f"validation_{metric}_mean" in evaluation:
        validation = with_interval(*(evaluation[f"validation_{metric}_{end}"] for end in ("mean", "ci_low", "ci_high")))
    if "gain_over_baseline" in evaluation:
        gain = (f"{fmt(evaluation['gain_over_baseline'])} [{fmt(evaluation['gain_over_baseline_ci_low'])}, "
                f"{fmt(evaluation['gain_over_baseline_ci_high'])}], one-sided "
                f"{p_value(evaluation['gain_over_baseline_p_value'])}")
    result = {"headline": headline(task, evaluation), "scores": test_scores(evaluation),
              "examples": len(predictions), "seeds": evaluation.get("seeds", 1), "validation": validation,
              "gain": gain, "last_value": last_value_note(task, evaluation),
              "worst": describe_worst(task, predictions, names, kind, x), "confusion": None,
              "ranges": None, "figures": []}
    if task.is_regression:
        from stages.lib.plots import residuals_png

        result["ranges"] = error_by_range(predictions)
        result["figures"].append({"uri": data_uri(residuals_png(predictions["actual"], predictions["predicted"])),
                                  "alt": "Residuals of the test examples against the prediction, and their histogram"})
        if figures.get("predictions"):
            result["figures"].append({"uri": figures["predictions"],
                                      "alt": "Predicted against actual values, test split"})
    else:
        result["confusion"] = confusion(task, predictions, names)
    return result


# Optimization and serving

def describe_optimization(optimize: Optional[dict], task: Task) -> dict:
    if optimize is None:
        return {"rows": [], "note": f"No optimization result ({paths.OPTIMIZE_METRICS} is missing): dvc repro "
                                    "optimize scores the int8 and pruned variants."}
    metric = task.primary_metric
    rows = []
    for name, variant in optimize.items():
        loss = (f"{variant['score_loss']:+.4f} [{variant['score_loss_ci_low']:+.4f}, "
                f"{variant['score_loss_ci_high']:+.4f}]" if "score_loss" in variant else "")
        rows.append({"name": name, "score": fmt(variant.get(metric, "")),
                     "bytes": f"{variant.get('weights_bytes', 0):,}",
                     "gzip": f"{variant.get('gzip_bytes', 0):,}", "loss": loss,
                     "status": variant.get("status", "reference"), "reason": variant.get("reason", "")})
    rejected = [row["name"] for row in rows if row["status"] == "rejected"]
    note = (f"Rejected, and not written: {', '.join(rejected)} (the reason is in the table)." if rejected
            else "Every variant was accepted: none is significantly worse than float32 by more than the bar.")
    return {"rows": rows, "metric": metric_name(metric), "note": note}


def describe_serving(export: Optional[dict], signature: Optional[dict]) -> dict:
    if export is None or signature is None:
        return {"served": None, "note": f"No exported model ({paths.EXPORT_METRICS} or the signature is missing): "
                                        "dvc repro export writes it."}
    gaps = export.get("relative_output_difference", {})
    return {"served": f"{paths.EXPORT_DIR}/saved_model", "model_name": signature.get("model_name"),
            "input": signature.get("input", {}).get("description") or json.dumps(signature.get("input", {})),
            "output": signature.get("output", {}).get("kind"),
            "examples": checked_examples(export.get("test_examples"), export.get("test_examples_of", export.get("test_examples"))),
            "gaps": ", ".join(f"{name} {fmt(gap)}" for name, gap in gaps.items()),
            "bytes": f"{export.get('saved_model_bytes', 0):,}", "note": None}


# Environment and lineage

def describe_environment(record: dict) -> list:
    machines = []
    for key, machine in record.get("machines", {}).items():
        # study@NAME: a stage of an older pipeline, whose records the file may still hold
        stages = sorted(name for name, used in record.get("stages", {}).items() if used == key and "@" not in name)
        if not stages:
            continue
        machines.append({"summary": environment.summary(machine), "stages": ", ".join(stages),
                         "python": machine.get("python"),
                         "packages": ", ".join(f"{name} {version}"
                                               for name, version in machine.get("packages", {}).items())})
    return machines


def describe_lineage(root: Path, manifest: dict) -> dict:
    """The commit the run started from, the raw data's hash, and whether the workspace still matches
    dvc.lock for the stages the card shows (checked by hashing, see lineage.workspace_differences)."""
    from stages.lib import lineage, vcs

    try:
        with contextlib.chdir(root):  # git answers for the folder it runs in
            head = vcs.describe_commit("HEAD")
            uncommitted = vcs.uncommitted("params.yaml", "dvc.yaml", "stages")
        subject = head["subject"] if len(head["subject"]) <= 80 else head["subject"][:77] + "..."
        commit = f"{head['short']} \"{subject}\" ({head['date']})"
    except PipelineError:
        commit, uncommitted = None, []
    lock_path = root / lineage.LOCK_FILE
    if not lock_path.exists():
        lock = {"text": f"no {lineage.LOCK_FILE}: no dvc repro has recorded this run", "differ": []}
    else:
        recorded = lineage.load_lock(lock_path)
        chain = list(dict.fromkeys(s for name in SHOWN_STAGES if name in recorded
                                   for s in lineage.upstream(name, recorded)))
        state = lineage.workspace_differences(chain, recorded, root)
        if state["differ"]:
            text = (f"{len(state['differ'])} file(s) differ from {lineage.LOCK_FILE}, so dvc repro would change "
                    "some of what this card shows")
        else:
            text = (f"the workspace matches {lineage.LOCK_FILE}: {len(state['checked'])} recorded inputs and "
                    f"outputs of {', '.join(chain)} hashed")
            if state["unchecked"]:
                text += (f"; {len(state['unchecked'])} folder(s) not checked, their listing not being in the local "
                         "DVC cache")
        lock = {"text": text, "differ": state["differ"][:10]}
    return {"commit": commit, "uncommitted": uncommitted, "raw_sha256": manifest.get("sha256"),
            "file_sha256": manifest.get("file_sha256"), "lock": lock["text"], "differ": lock["differ"]}


# Limitations

def limitations(task: Task, manifest: dict, split: dict, evaluation: dict, validation: dict, test: dict) -> list:
    n = test["examples"]
    head = test["headline"]
    notes = [f"The test {head['metric']} {head['text']} is the score on these {n} test examples; the bracket is "
             "its 95% interval: the range in which the score on more examples like these would lie, at 95% "
             "confidence. It covers the uncertainty of a finite test set, not of training."]
    seeds = evaluation.get("seeds", 1)
    notes.append(f"The model was trained {seeds} time(s) with different seeds (evaluate.seeds)." if seeds > 1 else
                 "The model was trained once, with one seed: how much the score moves from training noise alone "
                 "was not measured (set evaluate.seeds above 1 to measure it).")
    source = manifest.get("source") or manifest.get("dataset")
    if split.get("time_ordered"):
        notes.append(f"Tested on the latest {n} examples of {source}: later periods may differ more than these.")
    else:
        notes.append(f"Tested only on examples drawn from the same collection ({source}), at random: not on "
                     "data from another source, collected later, or from another population. Before trusting "
                     "these scores on new inputs, compare them with the training data: python -m stages.monitor "
                     "BATCH.json.")
    if manifest.get("target_summary"):
        summary = manifest["target_summary"]
        notes.append(f"Targets ranged from {fmt(summary['min'])} to {fmt(summary['max'])}: predictions outside "
                     "that range are extrapolations the test never checked.")
    if test.get("confusion"):
        few = [row["name"] for row in test["confusion"]["per_class"] if row["examples"] < 10]
        if few:
            notes.append(f"Classes with fewer than 10 test examples ({', '.join(few)}): their error rates are "
                         "very uncertain.")
    if manifest.get("excluded"):
        notes.append(f"Columns left out of the features, never seen by the model: {', '.join(manifest['excluded'])}.")
    if validation.get("reported_expectations"):
        notes.append(f"Validation reported {validation['reported_expectations']} warning(s) without stopping "
                     f"(see {paths.VALIDATION_RESULTS}).")
    notes.append("No subgroup (age, region, device, ...) was tested apart: only the classes or target ranges above.")
    return notes


# Reading and rendering

def _optional_json(path: Path) -> Optional[dict]:
    return json.loads(path.read_text()) if path.exists() else None


def _figure(path: Path) -> Optional[str]:
    return data_uri(path.read_bytes()) if path.exists() else None


def gather(root: Path = Path(".")) -> dict:
    """Everything the card shows, read from the pipeline's files under `root`."""
    from stages.lib.io import read_json
    from stages.lib.splitting import read_split

    root = Path(root)
    task, manifest = read_task(root / paths.TASK), read_json(root / paths.RAW_MANIFEST)
    split = read_split(root)
    evaluation = read_json(root / paths.EVALUATE_METRICS)
    validation = read_json(root / paths.VALIDATION)
    predictions_path = root / paths.TEST_PREDICTIONS
    if not predictions_path.exists():
        raise PipelineError(f"{predictions_path} is missing: run `dvc repro evaluate` first")
    predictions = pd.read_csv(predictions_path)
    names = class_names(task, manifest)
    raw_dir = root / paths.RAW_DIR
    x = read_raw(raw_dir)[0] if raw_dir.is_dir() else None
    histories = root / paths.CANDIDATE_HISTORIES
    studies = {path.stem: json.loads(path.read_text())
               for path in sorted(root.glob(paths.study_metrics("*")))}
    figures = {"learning_curves": _figure(root / paths.LEARNING_CURVES_PNG),
               "predictions": _figure(root / paths.PREDICTIONS_PNG)}
    test = describe_test(task, evaluation, predictions, names, manifest.get("kind"), x, figures)
    results = _optional_json(root / paths.VALIDATION_RESULTS)
    return {
        "task": describe_task(task, manifest),
        "data": describe_data(task, manifest, split, validation, results if isinstance(results, list) else [],
                              predictions["actual"]),
        "story": describe_story(task, read_json(root / paths.BASELINE_METRICS), read_json(root / paths.OVERFIT_METRICS),
                                read_json(root / paths.REGULARIZE_METRICS),
                                _optional_json(root / paths.REGULARIZED_DIR / "candidate.json") or {},
                                pd.read_csv(histories) if histories.exists() else None, studies),
        "figures": figures,
        "test": test,
        "optimization": describe_optimization(_optional_json(root / paths.OPTIMIZE_METRICS), task),
        "serving": describe_serving(_optional_json(root / paths.EXPORT_METRICS),
                                    _optional_json(root / paths.EXPORT_DIR / "signature.json")),
        "environment": describe_environment(environment.load(root / paths.ENVIRONMENT)),
        "lineage": describe_lineage(root, manifest),
        "limitations": limitations(task, manifest, split, evaluation, validation, test),
    }


def render(context: dict) -> str:
    """The page: the template filled with `context`, every value escaped."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    templates = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True, undefined=StrictUndefined,
                            trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    return templates.get_template(TEMPLATE).render(**context)
