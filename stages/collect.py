"""collect: load the dataset named in params, write the raw examples and their manifest."""
from stages.lib import paths
from stages.lib.datasets import (collect_summary, count_repeats, dataset_spec, deduplicate, drops_repeats, load_dataset,
                                 manifest, stratified_sample)
from stages.lib.errors import PipelineError, run_stage
from stages.lib.io import atomic_dir, write_json
from stages.lib.kinds import kind_named
from stages.lib.params import load_params
from stages.lib.tables import exclusion_notice


def main() -> None:
    params = load_params()
    spec = dataset_spec(params.task.dataset)
    if spec.problem and params.task.problem not in ("auto", spec.problem):
        raise PipelineError(f"task.problem={params.task.problem} does not fit {spec.name}, a {spec.problem} dataset: "
                            "set task.problem: auto")
    x, y, details = load_dataset(spec, params.collect, params.task.problem)
    kind = kind_named(spec.kind)
    if details.get("excluded"):
        print(exclusion_notice(details["excluded"]))
    removed = 0
    if drops_repeats(kind, params.collect.deduplicate):
        x, y, removed = deduplicate(kind, x, y)
    classification = details.get("problem", spec.problem) == "classification"
    before_sampling = len(y)
    x, y = stratified_sample(kind, x, y, params.collect.limit, params.seed, stratify=classification)
    repeats = count_repeats(kind, x)
    with atomic_dir(paths.RAW_DIR) as tmp:
        kind.write_raw(tmp, x, y)
        write_json(tmp / "manifest.json", manifest(spec, x, y, removed, details, repeats))
    dropped = {"without a target": details.get("rows_without_target_dropped", 0),
               "with an empty text": details.get("empty_texts_dropped", 0),
               "repeating an earlier example (collect.deduplicate)": removed}
    print(collect_summary(spec.name, len(y), dropped, repeats, before_sampling) + f" -> {paths.RAW_DIR}")


if __name__ == "__main__":
    run_stage(main)
