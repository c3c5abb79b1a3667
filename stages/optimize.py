"""optimize: the chosen model as float32, with int8 weights, and pruned then fine-tuned, each scored on test.

Writes reports/optimization.md (weights size, gzipped size, test score, loss against float32
with its interval and p-value, and status per variant) and its numbers as metrics. Latency is a
property of the machine, not of the model, so it is measured by `python bench/latency.py`, and
the stage's outputs stay byte-identical from run to run. A variant is rejected when it is significantly worse than float32 on the same test
examples and loses more than optimize.max_score_loss (and more than one example can make): points of a
bounded metric (accuracy, PR-AUC), a share of float32's score for an unbounded one (MAE), as each
variant's reason says (stages.lib.optimization.loss_bar); a rejected variant is reported, not written to
models/optimized/, and does not fail the stage.
"""
from stages.lib import paths
from stages.lib.artifacts import read_features
from stages.lib.environment import record
from stages.lib.errors import run_stage
from stages.lib.evaluation import task_scores
from stages.lib.io import atomic_dir, atomic_path, save_keras_model, write_json
from stages.lib.models import load_model, seed_everything
from stages.lib.optimization import (compare_variants, fine_tune, predict, prune, quantized,
                                     sparsity_of, table, weights_bytes, without_optimizer)
from stages.lib.params import load_params
from stages.lib.task import read_task


def main() -> None:
    params = load_params()
    settings = params.optimize
    task = read_task()
    metric = task.primary_metric
    x_test, y_test = read_features("test")
    source = f"{paths.REGULARIZED_DIR}/model.keras"
    seed_everything(params.seed)
    pruned = load_model(source)  # compiled as regularize trained it, for the fine-tuning
    masks = prune(pruned, settings.sparsity)
    if settings.fine_tune_epochs:
        fine_tune(pruned, masks, read_features("development"), settings.fine_tune_epochs, params.regularize.batch_size,
                  params.seed)
    variants = {name: without_optimizer(model) for name, model in
                (("float32", load_model(source)), ("int8", quantized(source)), ("pruned", pruned))}
    outputs = {name: predict(model, x_test) for name, model in variants.items()}
    results = {name: {metric: task_scores(task, y_test, outputs[name])[metric], **weights_bytes(model)}
               for name, model in variants.items()}
    results["pruned"]["sparsity"] = sparsity_of(masks)
    verdicts = compare_variants(task, y_test, outputs, params.seed, settings.max_score_loss, settings.significance)
    for name, verdict in verdicts.items():
        results[name].update(verdict)
    with atomic_dir(paths.OPTIMIZED_DIR) as tmp:
        for name, verdict in verdicts.items():
            if verdict["status"] == "accepted":
                save_keras_model(variants[name], tmp / f"{name}.keras")
    notes = "".join(f"\n- {name}: {v['status']}, {v['reason']}." for name, v in verdicts.items())
    with atomic_path(paths.OPTIMIZATION_TABLE) as tmp:
        tmp.write_text(f"# The chosen model, optimized\n\n{table(results, metric)}\n"
                       f"Pruned: {results['pruned']['sparsity']:.1%} of the Dense kernels' weights are zero, "
                       f"after {settings.fine_tune_epochs} epoch(s) of fine-tuning. Only accepted variants are "
                       f"written to {paths.OPTIMIZED_DIR}/.\n{notes}\n")
    write_json(paths.OPTIMIZE_METRICS, results)
    record("optimize")
    for name, r in results.items():
        print(f"optimize: {name}: test {metric} {r[metric]:.4f}, weights {r['weights_bytes']} bytes "
              f"({r['gzip_bytes']} gzipped)"
              + (f"; {r['status']}: {r['reason']}" if "status" in r else ""))


if __name__ == "__main__":
    run_stage(main)
