"""define_task: problem type -> last-layer activation, loss, metrics and baseline (the book's table)."""
from stages.lib import paths
from stages.lib.errors import PipelineError, run_stage
from stages.lib.io import read_json, write_json
from stages.lib.params import load_params
from stages.lib.task import define_task


def main() -> None:
    params = load_params()
    raw = read_json(paths.RAW_MANIFEST)
    try:
        task = define_task(raw["dataset"], raw["problem"], raw.get("class_counts"), params.task.imbalance_ratio)
    except ValueError as error:
        raise PipelineError(f"{paths.RAW_MANIFEST}: {error}") from None
    write_json(paths.TASK, task.to_dict())
    print(f"define_task: {task.problem_type}, {task.last_layer_activation} + {task.loss}, "
          f"primary metric {task.primary_metric}")


if __name__ == "__main__":
    run_stage(main)
