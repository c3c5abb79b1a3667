"""monitor: a batch of new inputs against the training data; a drift report, and exit 1 over the thresholds.

    python -m stages.monitor BATCH.json [--output monitoring/drift.json]

BATCH.json is a predict request, {"instances": [...]} of raw examples as the server takes them.
The thresholds are params monitor.max_js_divergence and monitor.max_linf_distance.
"""
import argparse
import sys
from pathlib import Path

from stages.lib import paths
from stages.lib.errors import PipelineError, run_stage
from stages.lib.export import raw_batch
from stages.lib.io import read_json, write_json
from stages.lib.kinds import kind_of, read_raw
from stages.lib.monitoring import as_raw, measure_drift, predicted_labels
from stages.lib.params import load_params
from stages.lib.serving import BadRequest, load_saved_model, parse_request, read_signature
from stages.lib.splitting import read_split
from stages.lib.task import read_task


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m stages.monitor", description=__doc__.splitlines()[0])
    parser.add_argument("batch", help='a JSON file: {"instances": [...]}, raw examples as the server takes them')
    parser.add_argument("--output", default="monitoring/drift.json", help="the drift report (default: %(default)s)")
    args = parser.parse_args()
    params = load_params()
    batch_file = Path(args.batch)
    if not batch_file.is_file():
        raise PipelineError(f"{batch_file} not found: give a JSON file of {{\"instances\": [...]}}")
    signature = read_signature(paths.EXPORT_DIR)
    try:
        batch = parse_request(batch_file.read_bytes(), signature, max_batch=sys.maxsize)
    except BadRequest as bad:
        raise PipelineError(f"{batch_file}: {bad}") from None
    model = load_saved_model(paths.EXPORT_DIR)
    task, manifest, split = read_task(), read_json(paths.RAW_MANIFEST), read_split()
    x, _ = read_raw()
    reference = kind_of(manifest).take(x, split["development"])  # what the served model was trained on

    def predict(inputs):
        return predicted_labels(task, model.serve(inputs).numpy())

    settings = params.monitor
    kind = manifest["kind"]
    report = measure_drift(kind, reference, as_raw(kind, batch, signature["input"]),
                           predict(raw_batch(reference, signature["input"])), predict(batch), task,
                           settings.max_js_divergence, settings.max_linf_distance, manifest.get("columns"))
    write_json(args.output, {"batch": str(batch_file), **report})
    for row in report["features"][:5]:
        print(f"monitor: {row['feature']}: {row['measure']} {row['value']:.4f} (threshold {row['threshold']})"
              f"{'  DRIFT' if row['drifted'] else ''}")
    drifted = [row for row in report["features"] if row["drifted"]]
    if drifted:
        named = ", ".join(f"{r['feature']} ({r['measure']} {r['value']:.3f} > {r['threshold']})" for r in drifted[:5])
        more = f" and {len(drifted) - 5} more" if len(drifted) > 5 else ""
        raise PipelineError(f"drift in {len(drifted)} feature(s) of {report['examples']} new examples: {named}{more}; "
                            f"report in {args.output}")
    print(f"monitor: no drift in {report['examples']} new examples over {len(report['features'])} feature(s); "
          f"report in {args.output}")


if __name__ == "__main__":
    run_stage(main)
