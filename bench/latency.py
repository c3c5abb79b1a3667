"""Single-example latency of the chosen model and of its optimized variants, side by side.

    python bench/latency.py [--repo FOLDER] [--repeats 200] [--rounds 3]

Times float32 (models/regularized), int8 and pruned (models/optimized/, those optimize accepted)
on test examples, one prediction of one example at a time after a warm-up, `rounds` times in
alternating order; prints each variant's median of the rounds' medians, and its ratio to float32.
Run `dvc repro optimize` first. Latency belongs to the machine, not the model, so the optimize
stage does not write it: its outputs stay byte-identical from run to run.
"""
import argparse
import os
import statistics
import sys
from pathlib import Path

from clone import ROOT, tiny

sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=ROOT, help="the project folder (default: this checkout)")
    parser.add_argument("--repeats", type=int, default=5 if tiny() else 200, help="predictions timed per round")
    parser.add_argument("--rounds", type=int, default=1 if tiny() else 3)
    args = parser.parse_args()
    os.chdir(args.repo)
    from stages.lib import paths
    from stages.lib.artifacts import read_features
    from stages.lib.models import load_model
    from stages.lib.optimization import single_example_latency_ms, without_optimizer

    x_test, _ = read_features("test")
    variants = {"float32": without_optimizer(load_model(f"{paths.REGULARIZED_DIR}/model.keras"))}
    for name in ("int8", "pruned"):
        path = Path(paths.OPTIMIZED_DIR) / f"{name}.keras"
        if path.is_file():
            variants[name] = load_model(path)
        else:
            print(f"{name}: not in {paths.OPTIMIZED_DIR}/ (run `dvc repro optimize`; a rejected variant is not written)")
    medians = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, model in variants.items():
            medians[name].append(single_example_latency_ms(model, x_test, args.repeats))
    reference = statistics.median(medians["float32"])
    for name, runs in medians.items():
        median = statistics.median(runs)
        print(f"{name}: median {median:.3f} ms per example of {[round(r, 3) for r in runs]}, "
              f"{median / reference:.2f} x float32")


if __name__ == "__main__":
    main()
