"""A fifth data kind is one class and one registry line: collect's raw files, validate, vectorize, export, serve,
monitor and the model card reach it through the registry, with no change of their own."""
import dataclasses
import json

import numpy as np
import pytest

from stages.lib import kinds, paths
from stages.lib.datasets import DATASETS, deduplicate, manifest, stratified_sample
from stages.lib.errors import PipelineError
from stages.lib.io import read_json, write_json
from stages.lib.kinds import read_raw
from stages.lib.kinds.base import Kind
from stages.lib.params import load_params
from stages.lib.splitting import read_split, write_split
from tests.conftest import THREE_CLASSES, holdout_split


class DurationFeatures:
    """Durations in seconds to minutes over the training data's longest (a statistic fitted on training only)."""

    def fit(self, x):
        self.longest = float(np.max(x))
        return self

    def transform(self, x):
        return (np.asarray(x, dtype=np.float32).reshape(-1, 1) / self.longest).astype(np.float32)

    def statistics(self) -> dict:
        return {"kind": "durations", "longest": self.longest}


class Durations(Kind):
    """The toy kind: one whole number of seconds per example. Its raw files, row hashes and manifest fields
    are the defaults of base.Kind (an array in data/raw/examples.npz)."""

    name, input = "durations", "seconds"

    def schema_check(self, raw, x, value_range):
        import great_expectations.expectations as gxe
        import pandas as pd

        from stages.lib.validation import Check

        frame = pd.DataFrame({"example": np.arange(len(x)), "seconds": x})
        return Check("schema_and_ranges", frame, [gxe.ExpectColumnValuesToBeBetween(column="seconds", min_value=0)],
                     ["example"])

    def drift_features(self, x, columns):
        return ["seconds"], [np.asarray(x, dtype=np.float64)]

    def preprocessor(self, raw, vectorize, imdb_encoding):
        return DurationFeatures()

    def layers(self, preprocessor, raw):
        import keras

        inputs = keras.Input(shape=(1,), dtype="float32", name=self.input)
        return inputs, keras.layers.Rescaling(1.0 / preprocessor.longest)(inputs)

    def input_spec(self, statistics, raw):
        return {"name": self.input, "dtype": "float32", "shape": [1], "description": "one duration in seconds"}

    def raw_batch(self, x, spec):
        return np.asarray(x, dtype=np.float32).reshape(-1, 1)

    def as_instances(self, batch, spec):
        return [int(row[0]) for row in batch]

    def parse(self, instances, spec):
        from stages.lib.serving import BadRequest

        if not all(isinstance(i, int) and i >= 0 for i in instances):
            raise BadRequest("send whole numbers of seconds")
        return self.raw_batch(instances, spec)

    def example_view(self, x, index):
        minutes, seconds = divmod(int(x[index]), 60)
        return {"text": f"{minutes} min {seconds} s"}


@pytest.fixture
def durations(project, monkeypatch):
    """A project whose raw data is of the toy kind, registered as a fifth kind would be."""
    monkeypatch.setitem(kinds.KINDS, Durations.name, Durations())  # the one registry line
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 40)
    x = (rng.integers(10, 100, len(y)) + 100 * y).astype(np.int64)
    # As collect writes them: the kind's raw files, then the manifest.
    kinds.kind_named("durations").write_raw(project / paths.RAW_DIR, x, y)
    raw = {"dataset": "digits", "kind": "durations", "problem": "classification", "examples": len(y),
           "class_counts": {str(c): 40 for c in range(3)}}
    write_json(paths.RAW_MANIFEST, raw)
    write_split(holdout_split(y))
    write_json(paths.VALIDATION, {"success": True})
    return project, x, y, raw


def test_collect_writes_and_every_stage_reads_the_raw_files_through_the_kind(durations):
    project, x, y, raw = durations
    assert sorted(p.name for p in (project / paths.RAW_DIR).iterdir()) == ["examples.npz", "manifest.json"]
    read_x, read_y = read_raw()
    np.testing.assert_array_equal(read_x, x)
    np.testing.assert_array_equal(read_y, y)

    kind = kinds.kind_named("durations")
    record = manifest(dataclasses.replace(DATASETS["digits"], kind="durations"), x, y)
    assert record["kind"] == "durations" and record["example_shape"] == [] and record["dtype"] == "int64"
    assert record["sha256"] != manifest(dataclasses.replace(DATASETS["digits"], kind="durations"), x + 1, y)["sha256"]
    # Equal durations hash alike: collect drops the repeats, and validate would find one in two splits.
    hashes = kind.row_hashes(x)
    assert len(set(hashes)) == len(set(x.tolist())) < len(x)
    kept_x, kept_y, removed = deduplicate(kind, x, y)
    assert removed == len(x) - len(set(x.tolist())) and len(set(kept_x.tolist())) == len(kept_x) == len(kept_y)
    small_x, small_y = stratified_sample(kind, x, y, 30, seed=0)
    assert np.bincount(small_y).tolist() == [10, 10, 10] and set(small_x.tolist()) <= set(x.tolist())


def test_validation_summarizes_and_measures_drift_through_the_kind(durations):
    from stages.lib.validation import build_checks

    project, x, y, raw = durations
    split = read_split()
    checks = build_checks(raw, x, y, split, load_params().validate_, (0, 0), [0, 1, 2], 0)
    by_name = {check.name: check.frame for check in checks}
    assert list(by_name["schema_and_ranges"].columns) == ["example", "seconds"]
    assert set(by_name["drift"]["feature"]) == {"seconds"}
    leakage = by_name["leakage"]  # a row per content in two splits, a count per split for the others
    assert set(leakage["hash"].dropna()) <= set(kinds.kind_named("durations").row_hashes(x))
    assert (leakage.groupby("fold")["contents"].sum() == len(set(x.tolist()))).all()


def test_vectorize_export_serve_and_monitor_use_the_kind(durations):
    import keras

    from stages import vectorize
    from stages.lib.artifacts import read_features
    from stages.lib.export import as_instances, inference_model, load_preprocessing, raw_batch
    from stages.lib.monitoring import measure_drift
    from stages.lib.serving import parse_request

    project, x, y, raw = durations
    vectorize.main()
    development = read_split()["development"]
    assert read_json(paths.PREPROCESSING) == {"kind": "durations", "longest": float(x[development].max())}
    features, _ = read_features("test")
    assert features.shape[1] == 1 and features.max() <= 1.5

    # The serving form vectorize saved takes raw seconds to the very features it wrote.
    preprocessing = load_preprocessing(paths.PREPROCESSING_MODEL, raw)
    model, signature = inference_model(preprocessing, keras.layers.Identity(), read_json(paths.PREPROCESSING), raw,
                                       dataclasses.replace(THREE_CLASSES, output_units=1))
    test = np.asarray(read_split()["test"])
    np.testing.assert_allclose(model.predict(raw_batch(x[test], signature["input"]), verbose=0), features, rtol=1e-6)

    body = json.dumps({"instances": as_instances(raw_batch(x[test], signature["input"]), signature["input"])})
    np.testing.assert_array_equal(parse_request(body.encode(), signature, 1000), raw_batch(x[test], signature["input"]))

    report = measure_drift("durations", x, x[test] + 500, y, y[test], THREE_CLASSES, 0.1, 0.1)
    assert "seconds" in report["drifted"]


def test_the_model_card_shows_the_worst_examples_as_the_kind_views_them(durations):
    from stages.lib.evaluation import predictions_frame
    from stages.lib.model_card import describe_worst

    project, x, y, raw = durations
    test = np.asarray(read_split()["test"])
    wrong = np.eye(3)[(y[test] + 1) % 3]  # every test example given to the next class
    predictions = predictions_frame(THREE_CLASSES, test, y[test], wrong)
    rows = describe_worst(THREE_CLASSES, predictions, {c: str(c) for c in range(3)}, "durations", read_raw()[0])
    assert rows and all(row["text"] == "{} min {} s".format(*divmod(int(x[row["example"]]), 60)) for row in rows)


def test_an_unknown_kind_or_served_input_is_a_one_line_error_naming_what_to_rebuild():
    with pytest.raises(PipelineError, match=r"data of kind 'audio' is not supported \(known: \['images', "
                                            r"'sequences', 'table', 'text'\]\): rebuild the raw data with `dvc repro collect`"):
        kinds.kind_of({"kind": "audio"})
    with pytest.raises(PipelineError, match=r"no data kind takes the input 'waveform': re-export the model with "
                                            r"`dvc repro export`"):
        kinds.kind_of_input({"name": "waveform"})
