"""optimize: the chosen model as float32, with int8 weights, and pruned then fine-tuned, each scored on test.

Writes the int8 and pruned models, reports/optimization.md (weights size, gzipped size, test
score and single-example latency per variant) and its numbers as metrics. A variant that loses
more than optimize.max_score_loss of the primary metric against float32 fails the stage.
"""
from stages.lib import paths
from stages.lib.artifacts import read_features
from stages.lib.errors import run_stage
from stages.lib.evaluation import task_scores
from stages.lib.io import atomic_dir, atomic_path, read_json, save_keras_model, write_json
from stages.lib.models import load_model, seed_everything
from stages.lib.optimization import (check_score_losses, keep_pruned, prune, quantized, single_example_latency_ms,
                                     sparsity_of, table, weights_bytes, without_optimizer)
from stages.lib.params import load_params


def main() -> None:
    params = load_params()
    settings = params.optimize
    task = read_json(paths.TASK)
    metric = task["primary_metric"]
    x_test, y_test = read_features("test")
    source = f"{paths.REGULARIZED_DIR}/model.keras"
    seed_everything(params.seed)
    pruned = load_model(source)  # compiled as regularize trained it, for the fine-tuning
    masks = prune(pruned, settings.sparsity)
    if settings.fine_tune_epochs:
        x_development, y_development = read_features("development")
        pruned.fit(x_development, y_development, epochs=settings.fine_tune_epochs,
                   batch_size=params.regularize.batch_size, callbacks=[keep_pruned(masks)], verbose=2)
    variants = {name: without_optimizer(model) for name, model in
                (("float32", load_model(source)), ("int8", quantized(source)), ("pruned", pruned))}
    results = {}
    for name, model in variants.items():
        scores = task_scores(task, y_test, model.predict(x_test, verbose=0))
        results[name] = {metric: scores[metric], **weights_bytes(model),
                         "latency_ms": single_example_latency_ms(model, x_test, settings.latency_repeats)}
    results["pruned"]["sparsity"] = sparsity_of(masks)
    losses = check_score_losses(results, metric, task["greater_is_better"], settings.max_score_loss)
    with atomic_dir(paths.OPTIMIZED_DIR) as tmp:
        for name in ("int8", "pruned"):
            save_keras_model(variants[name], tmp / f"{name}.keras")
    with atomic_path(paths.OPTIMIZATION_TABLE) as tmp:
        tmp.write_text(f"# The chosen model, optimized\n\n{table(results, metric)}\n"
                       f"Pruned: {results['pruned']['sparsity']:.1%} of the Dense kernels' weights are zero, "
                       f"after {settings.fine_tune_epochs} epoch(s) of fine-tuning. Score loss against float32: "
                       + ", ".join(f"{name} {loss:+.4f}" for name, loss in losses.items()) + ".\n")
    write_json(paths.OPTIMIZE_METRICS, {**results, "score_loss": losses})
    for name, r in results.items():
        print(f"optimize: {name}: test {metric} {r[metric]:.4f}, weights {r['weights_bytes']} bytes "
              f"({r['gzip_bytes']} gzipped), {r['latency_ms']:.2f} ms per example")


if __name__ == "__main__":
    run_stage(main)
