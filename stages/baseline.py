"""baseline: trivial classifiers scored on validation and test, the bar every model must clear."""
from stages.lib import paths
from stages.lib.artifacts import read_features
from stages.lib.baselines import score_baselines
from stages.lib.errors import run_stage
from stages.lib.io import write_json
from stages.lib.params import load_params


def main() -> None:
    params = load_params()
    scores = score_baselines(params.baseline.strategies, read_features("train"), read_features("validation"),
                             read_features("test"), params.seed)
    write_json(paths.BASELINE_METRICS, scores)
    for name, score in scores.items():
        print(f"baseline {name}: validation accuracy {score['validation_accuracy']:.3f}")


if __name__ == "__main__":
    run_stage(main)
