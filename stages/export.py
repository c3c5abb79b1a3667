"""export: the chosen model behind its preprocessing layers, in the Keras format and as a SavedModel.

Raw inputs go in, predictions come out. Before anything is written, both artifacts must give
the trained model's outputs on the raw test examples (a seeded sample of export.max_parity_examples
of them when there are more), within export.max_output_difference of the outputs' scale
(max(1, largest |output|)): float32 rounding grows with the outputs' size.
"""
import os

import numpy as np

from stages.lib import paths
from stages.lib.artifacts import read_features
from stages.lib.environment import record
from stages.lib.errors import PipelineError, run_stage
from stages.lib.export import (check_parity, checked_examples, inference_model, load_preprocessing, output_gaps,
                               output_scale, parity_sample, raw_batch, write_export)
from stages.lib.io import atomic_dir, read_json, write_json
from stages.lib.kinds import kind_of, read_examples
from stages.lib.models import load_model, predict
from stages.lib.params import load_params
from stages.lib.splitting import read_split
from stages.lib.task import read_task


def folder_bytes(folder) -> int:
    return sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(folder) for name in names)


def main() -> None:
    params = load_params()
    task, manifest, split = read_task(), read_json(paths.RAW_MANIFEST), read_split()
    test = split["test"]
    checked = parity_sample(len(test), params.export.max_parity_examples, params.seed)
    kind = kind_of(manifest)
    test_raw = read_examples(test[checked])
    # The preprocessing vectorize fitted on all development rows, as the Keras layers it saved.
    statistics = read_json(paths.PREPROCESSING)
    reason = kind.unservable(statistics)
    if reason:
        raise PipelineError(reason)
    preprocessing = load_preprocessing(paths.PREPROCESSING_MODEL, manifest)
    trained = load_model(f"{paths.REGULARIZED_DIR}/model.keras")
    model, signature = inference_model(preprocessing, trained, statistics, manifest, task)
    signature["model_name"] = params.export.model_name
    expected = predict(trained, read_features("test")[0][checked])
    test_inputs = raw_batch(test_raw, signature["input"])
    with atomic_dir(paths.EXPORT_DIR) as tmp:
        write_export(tmp, model, signature)
        gaps = output_gaps(tmp, model, test_inputs, expected)
        relative = check_parity(gaps, expected, params.export.max_output_difference)
        sizes = {"keras_bytes": os.path.getsize(tmp / "model.keras"),
                 "saved_model_bytes": folder_bytes(tmp / "saved_model")}
    write_json(paths.EXPORT_METRICS, {
        "test_examples": len(expected), "test_examples_of": len(test), "max_output_difference": gaps, "output_scale": output_scale(expected),
        "relative_output_difference": relative,
        # The same in float32 roundings (eps 1.2e-7): the 6 decimals metrics keep would show most as 0.
        "relative_output_difference_float32_eps": {k: v / float(np.finfo(np.float32).eps) for k, v in relative.items()},
        **sizes})
    record("export")
    print(f"export: {paths.EXPORT_DIR} (Keras {sizes['keras_bytes']} bytes, SavedModel {sizes['saved_model_bytes']} "
          f"bytes); on {checked_examples(len(expected), len(test))} raw test examples the outputs match the trained "
          f"model within "
          f"{max(gaps.values()):.2g} ({max(relative.values()):.2g} of their scale)")


if __name__ == "__main__":
    run_stage(main)
