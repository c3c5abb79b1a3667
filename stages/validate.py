"""validate: Great Expectations on the raw data and the splits; a failure stops the pipeline, what is
reported only (drift in a time-ordered split) is printed and kept in the results."""
from stages.lib import paths
from stages.lib.datasets import dataset_spec, expected_classes, value_range
from stages.lib.errors import PipelineError, run_stage
from stages.lib.io import atomic_dir, read_json, write_json
from stages.lib.kinds import read_raw
from stages.lib.params import load_params
from stages.lib.splitting import check_split_file, read_split
from stages.lib.validation import blocking, build_checks, failure_message, report_message, run_checks, summary_metrics


def main() -> None:
    params = load_params()
    raw = read_json(paths.RAW_MANIFEST)
    x, y = read_raw()
    split = read_split()
    check_split_file(split, len(y))
    spec = dataset_spec(raw["dataset"])
    checks = build_checks(raw, x, y, split, params.validate_, value_range(spec, params.collect),
                          expected_classes(spec, raw), params.seed)
    with atomic_dir(paths.DATA_DOCS) as docs:
        outcomes = run_checks(checks, docs)
        if blocking(outcomes):
            raise PipelineError(failure_message(outcomes))
    metrics = summary_metrics(outcomes, checks, params.validate_)
    write_json(paths.VALIDATION_RESULTS, outcomes)
    write_json(paths.VALIDATION, metrics)
    print(f"validate: {metrics['expectations'] - metrics['reported_expectations']} of {metrics['expectations']} "
          f"expectations passed; Data Docs in {paths.DATA_DOCS}/index.html")
    report = report_message(outcomes)
    if report:
        print(f"validate: {report}")


if __name__ == "__main__":
    run_stage(main)
