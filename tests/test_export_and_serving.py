"""Export (raw inputs in, predictions out) and the REST server, over real HTTP on loopback."""
import http.client
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pandas as pd
import pytest
import yaml

from stages.lib.errors import PipelineError
from stages.lib.export import inference_model, raw_batch
from stages.lib.features import ImageFeatures, MultiHotSequences, TableFeatures, TextFeatures
from stages.lib.sequences import Sequences
from stages.lib.serving import BadRequest, free_port, parse_request, wait_until_serving
from tests.conftest import ROOT, THREE_CLASSES, export_tiny_model, with_changes, write_params

IMAGE_SIGNATURE = {"input": {"name": "pixels", "dtype": "float32", "shape": [8, 8]}}


def export(folder, preprocessor, x, y, manifest, sparse=False):
    return export_tiny_model(folder, preprocessor, x, y, manifest, THREE_CLASSES, sparse)


@pytest.fixture(scope="module")
def image_export(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 16, size=(60, 8, 8)), rng.integers(0, 3, 60)
    signature, inputs, expected, gaps = export(folder, ImageFeatures("standard"), x, y,
                                               {"kind": "images", "example_shape": [8, 8]})
    return {"folder": folder, "signature": signature, "inputs": inputs, "expected": expected, "gaps": gaps}


def test_the_exported_image_model_takes_raw_pixels_and_matches_the_trained_model(image_export):
    assert image_export["signature"]["input"] == {
        "name": "pixels", "dtype": "float32", "shape": [8, 8],
        "description": "one image as a nested list of 8x8 pixel values"}
    assert image_export["inputs"].shape == (60, 8, 8)
    assert max(image_export["gaps"].values()) < 1e-5
    assert (image_export["folder"] / "model.keras").stat().st_size > 0


@pytest.mark.parametrize("normalization", ["minmax", "none"])
def test_every_image_normalization_is_exported(tmp_path, normalization):
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, 16, size=(40, 4, 4)), rng.integers(0, 3, 40)
    *_, gaps = export(tmp_path, ImageFeatures(normalization), x, y, {"kind": "images", "example_shape": [4, 4]})
    assert max(gaps.values()) < 1e-5


def test_token_sequences_are_exported_with_padding_that_is_not_a_word(tmp_path):
    rng = np.random.default_rng(2)
    lists = [list(rng.integers(1, 30, size=rng.integers(1, 12))) for _ in range(50)]
    x, y = Sequences.from_lists(lists), rng.integers(0, 3, 50)
    signature, inputs, _, gaps = export(tmp_path, MultiHotSequences(30), x, y, {"kind": "sequences"}, sparse=True)
    assert inputs.shape == (50, max(len(s) for s in lists)) and (inputs == 0).any()  # padded
    assert signature["input"]["max_token"] == 29 and max(gaps.values()) < 1e-5


@pytest.mark.parametrize("output_mode", ["multi_hot", "tf_idf"])
def test_texts_are_exported_with_the_fitted_vectorizer(tmp_path, output_mode):
    words = ["good", "bad", "film", "plot", "great", "awful", "actors", "music"]
    rng = np.random.default_rng(3)
    x = np.array([" ".join(rng.choice(words, size=6)) for _ in range(50)], dtype=object)
    y = rng.integers(0, 3, 50)
    signature, inputs, _, gaps = export(tmp_path, TextFeatures(output_mode, 1, 100), x, y, {"kind": "text"},
                                        sparse=True)
    assert signature["input"]["dtype"] == "string" and inputs.shape == (50,)
    assert max(gaps.values()) < 1e-5


def table(n, seed):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"mean radius": rng.normal(14, 3, n), "age": rng.normal(50, 10, n),
                          "city": rng.choice(["paris", "lyon", "nice"], size=n).astype(object)})
    frame.loc[::7, "mean radius"] = np.nan
    frame.loc[::5, "city"] = None
    return frame


@pytest.mark.parametrize("normalization", ["standard", "minmax"])
def test_a_table_is_exported_with_imputation_indicators_scaling_and_one_hot(tmp_path, normalization):
    x, y = table(60, 4), np.random.default_rng(4).integers(0, 3, 60)
    preprocessor = TableFeatures(["mean radius", "age"], ["city"], normalization, "median", 5)
    signature, inputs, _, gaps = export(tmp_path, preprocessor, x, y, {"kind": "table"})
    assert [c["input"] for c in signature["input"]["columns"]] == ["mean_radius", "age", "city"]
    assert signature["input"]["categories"] == {"city": ["lyon", "missing", "nice", "paris"]}
    assert max(gaps.values()) < 1e-5
    unseen = x.assign(city="marseille")  # an unseen category encodes as all zeros, as OneHotEncoder does
    model = keras.models.load_model(tmp_path / "model.keras")  # TablePreprocessing is registered on import
    trained = model.layers[-1]
    assert np.allclose(model.predict(raw_batch(unseen, signature["input"]), verbose=0),
                       trained.predict(preprocessor.transform(unseen), verbose=0), atol=1e-5)


def test_a_table_with_knn_imputation_is_refused_with_the_fix():
    preprocessor = TableFeatures(["mean radius", "age"], ["city"], "standard", "knn", 3).fit(table(30, 5))
    with pytest.raises(PipelineError, match="vectorize.imputation: knn is not supported.*set vectorize.imputation: "
                                            "median"):
        inference_model(preprocessor, None, {"kind": "table"}, THREE_CLASSES)


@pytest.mark.parametrize("body, message", [
    (b"{bad", "malformed JSON"),
    (b"[" * 100000, "malformed JSON"),
    (b'"instances"', 'a JSON object with "instances"'),
    (b'{"inputs": [1]}', 'a JSON object with "instances"'),
    (b'{"instances": []}', "non-empty list"),
    (b'{"instances": [[1, 2]]}', "instance 0 has shape [2], the model takes [8, 8]"),
    (b'{"instances": [[[1, 2], [3]]]}', "instance 0 has shape"),
    (json.dumps({"instances": [[["x"] * 8] * 8]}).encode(), "not a number"),
    (json.dumps({"instances": [[[True] * 8] * 8]}).encode(), "not a number"),
    (json.dumps({"instances": [[[None] * 8] * 8]}).encode(), "not a number"),
    (json.dumps({"instances": [[[float("nan")] * 8] * 8]}).encode(), "NaN, infinity"),
    (json.dumps({"instances": [[[10 ** 400] * 8] * 8]}).encode(), "beyond float32"),
])
def test_a_bad_request_is_refused_with_a_message(body, message):
    with pytest.raises(BadRequest, match=message.replace("[", r"\[").replace("]", r"\]")) as refused:
        parse_request(body, IMAGE_SIGNATURE, max_batch=4)
    assert refused.value.status == 400


def test_an_oversized_batch_is_refused_with_413():
    with pytest.raises(BadRequest, match="5 instances in one request; at most 4") as refused:
        parse_request(json.dumps({"instances": [[[0] * 8] * 8] * 5}).encode(), IMAGE_SIGNATURE, max_batch=4)
    assert refused.value.status == 413


def test_table_rows_are_objects_with_every_column_and_typed_values():
    spec = {"input": {"name": "columns", "columns": [
        {"column": "mean radius", "input": "mean_radius", "dtype": "float32"},
        {"column": "city", "input": "city", "dtype": "string"}]}}
    batch = parse_request(json.dumps({"instances": [{"mean radius": 12.5, "city": "paris"},
                                                    {"mean radius": None, "city": None}]}).encode(), spec, 4)
    assert batch["city"].tolist() == ["paris", "missing"] and np.isnan(batch["mean_radius"][1])
    for instance, message in (([1, 2], "not a JSON object"), ({"mean radius": 1}, r"lacks column\(s\) \['city'\]"),
                              ({"mean radius": 1, "city": "x", "zip": 1}, "unknown column"),
                              ({"mean radius": "12,5", "city": "x"}, "'12,5' is not a number"),
                              ({"mean radius": True, "city": "x"}, "True is not a number"),
                              ({"mean radius": 1, "city": ["x"]}, "is not a category")):
        with pytest.raises(BadRequest, match=message):
            parse_request(json.dumps({"instances": [instance]}).encode(), spec, 4)


def test_tokens_and_texts_are_checked_for_their_type_and_range():
    tokens = {"input": {"name": "tokens", "max_token": 9}}
    assert parse_request(b'{"instances": [[1, 2, 3], [4]]}', tokens, 4).tolist() == [[1, 2, 3], [4, 0, 0]]
    for bad, message in ((b'{"instances": [[1, 10]]}', r"outside 1\.\.9"), (b'{"instances": [[0]]}', "outside"),
                         (b'{"instances": [[1.5]]}', "not an integer"), (b'{"instances": [[]]}', "non-empty list")):
        with pytest.raises(BadRequest, match=message):
            parse_request(bad, tokens, 4)
    texts = {"input": {"name": "text"}}
    assert parse_request(b'{"instances": ["a good film"]}', texts, 4).tolist() == ["a good film"]
    with pytest.raises(BadRequest, match="instance 1 is not a string"):
        parse_request(b'{"instances": ["ok", 3]}', texts, 4)


def request(port, method, path, body=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    payload = json.loads(response.read() or b"null")
    connection.close()
    return response.status, payload


@pytest.fixture(scope="module")
def server(image_export, tmp_path_factory):
    project = tmp_path_factory.mktemp("serving")
    defaults = yaml.safe_load((ROOT / "params.yaml").read_text())
    write_params(project, with_changes(defaults, export={"model_name": "digits"},
                                       serve={"max_batch": 4, "max_body_bytes": 20000}))
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "stages.serve", "--port", str(port), "--model-dir",
                                str(image_export["folder"])], cwd=project, env={**os.environ, "PYTHONPATH": str(ROOT)},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not wait_until_serving(port, "digits", timeout=90):
        process.kill()
        pytest.fail(f"the server did not start: {process.communicate()[1][-2000:]}")
    yield port, process
    process.terminate()
    process.wait(timeout=30)


def test_the_server_reports_its_status_and_metadata(server):
    port, _ = server
    status, payload = request(port, "GET", "/v1/models/digits")
    assert status == 200 and payload["model_version_status"][0]["state"] == "AVAILABLE"
    status, payload = request(port, "GET", "/v1/models/digits/metadata")
    assert status == 200 and payload["metadata"]["input"]["shape"] == [8, 8]


def test_a_prediction_over_http_matches_the_model_s_own_output(server, image_export):
    port, _ = server
    instances = image_export["inputs"][:3].tolist()
    status, payload = request(port, "POST", "/v1/models/digits:predict", json.dumps({"instances": instances}))
    assert status == 200
    assert np.allclose(payload["predictions"], image_export["expected"][:3], atol=1e-5)


def test_bad_requests_get_4xx_with_a_message_and_the_server_keeps_serving(server):
    port, process = server
    image = [[0.0] * 8] * 8
    cases = [
        ("POST", "/v1/models/digits:predict", "{not json", 400, "malformed JSON"),
        ("POST", "/v1/models/digits:predict", json.dumps({"instances": [[1, 2, 3]]}), 400, "shape"),
        ("POST", "/v1/models/digits:predict", json.dumps({"instances": [[["a"] * 8] * 8]}), 400, "not a number"),
        ("POST", "/v1/models/digits:predict", json.dumps({"instances": [image] * 5}), 413, "at most 4"),
        ("POST", "/v1/models/digits:predict", json.dumps({"instances": [image] * 4, "pad": "x" * 30000}), 413,
         "at most 20000"),
        ("POST", "/v1/models/other:predict", json.dumps({"instances": [image]}), 404, "Servable not found"),
        ("GET", "/v1/models/other", None, 404, "Servable not found"),
        ("GET", "/nothing/here", None, 404, "Not Found"),
        ("DELETE", "/v1/models/digits", None, 405, "Method Not Allowed"),
    ]
    for method, path, body, expected_status, message in cases:
        status, payload = request(port, method, path, body)
        assert (status, message in payload["error"]) == (expected_status, True), (path, body and body[:60], payload)
    assert request(port, "GET", "/v1/models/digits")[0] == 200 and process.poll() is None
