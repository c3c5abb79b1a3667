"""The REST server: the request parser (examples and properties), then the server over real sockets on
loopback, hostile clients included."""
import asyncio
import contextlib
import http.client
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stages.lib.serving import (SERVER_FAULT, BadRequest, build_app, check_predictions, free_port, http_protocol,
                                is_json, parse_request, read_body, wait_until_serving)
from tests.conftest import ROOT, with_changes, write_params

IMAGE_SIGNATURE = {"input": {"name": "pixels", "dtype": "float32", "shape": [8, 8]}}
TABLE_SIGNATURE = {"input": {"name": "columns", "columns": [
    {"column": "mean radius", "input": "mean_radius", "dtype": "float32"},
    {"column": "city", "input": "city", "dtype": "string"}]}}
TOKENS_SIGNATURE = {"input": {"name": "tokens", "max_token": 9}}
TEXT_SIGNATURE = {"input": {"name": "text"}}
IMAGE = [[0.0] * 8] * 8


def refused(body, signature=IMAGE_SIGNATURE, max_batch=4) -> BadRequest:
    with pytest.raises(BadRequest) as refusal:
        parse_request(body if isinstance(body, bytes) else json.dumps(body).encode(), signature, max_batch)
    return refusal.value


@pytest.mark.parametrize("body, message", [
    (b"{bad", "malformed JSON"),
    (b"[" * 100000, "malformed JSON"),
    (b"\xff\xfe\x00", "malformed JSON"),
    (b'"instances"', 'a JSON object with "instances"'),
    (b'{"inputs": [1]}', 'a JSON object with "instances"'),
    (b'{"instances": []}', "non-empty list"),
    (b'{"instances": [[1, 2]]}', "instance 0 has shape [2], the model takes [8, 8]"),
    (b'{"instances": [[[1, 2], [3]]]}', "instance 0 has shape"),
    (b'{"instances": [' + b"[" * 500 + b"]" * 500 + b"]}", "instance 0 has shape"),
    ({"instances": [[["x"] * 8] * 8]}, "not a number"),
    ({"instances": [[[True] * 8] * 8]}, "not a number"),
    ({"instances": [[[None] * 8] * 8]}, "not a number"),
    ({"instances": [[[{"a": 1}] * 8] * 8]}, "not a number"),
    ({"instances": [[[float("nan")] * 8] * 8]}, "NaN, infinity"),
    ({"instances": [[[10 ** 400] * 8] * 8]}, "beyond float32"),
    (b'{"instances": [[[1e400]]]}', "shape"),
    (b'{"instances": [' + b"9" * 5000 + b"]}", "a number in the body has more than 4300 digits"),
    (b'{"instances": [[' + b"-" + b"1" * 4301 + b"]]}", "more than 4300 digits"),
])
def test_a_bad_request_is_refused_with_a_message(body, message):
    refusal = refused(body)
    assert message in str(refusal) and refusal.status == 400


def test_an_oversized_batch_is_refused_with_413():
    refusal = refused({"instances": [IMAGE] * 5})
    assert "5 instances in one request; at most 4" in str(refusal) and refusal.status == 413


def test_numbers_up_to_float32_s_largest_are_taken():
    batch = parse_request(json.dumps({"instances": [[[3.4e38] * 8] * 8, [[-(10 ** 38)] * 8] * 8]}).encode(),
                          IMAGE_SIGNATURE, 4)
    assert batch.dtype == np.float32 and batch.shape == (2, 8, 8) and np.isfinite(batch).all()


def test_table_rows_are_objects_with_every_column_and_typed_values():
    batch = parse_request(json.dumps({"instances": [{"mean radius": 12.5, "city": "paris"},
                                                    {"mean radius": None, "city": None}]}).encode(), TABLE_SIGNATURE, 4)
    assert batch["city"].tolist() == ["paris", "missing"] and np.isnan(batch["mean_radius"][1])
    for instance, message in (([1, 2], "not a JSON object"), ({"mean radius": 1}, "lacks column(s) ['city']"),
                              ({"mean radius": 1, "city": "x", "zip": 1}, "unknown column"),
                              ({"mean radius": "12,5", "city": "x"}, "'12,5' is not a number"),
                              ({"mean radius": True, "city": "x"}, "True is not a number"),
                              ({"mean radius": 1e39, "city": "x"}, "1e+39 is not a number within float32"),
                              ({"mean radius": 1, "city": ["x"]}, "is not a category"),
                              ({"mean radius": 1, "city": "\ud800"}, "lone surrogate"),
                              ({"mean radius": "y" * 10000, "city": "x"}, "yyy...")):
        refusal = refused({"instances": [instance]}, TABLE_SIGNATURE)
        assert message in str(refusal) and len(str(refusal)) < 200, str(refusal)[:300]


def test_json_booleans_are_the_categories_true_and_false():
    body = json.dumps({"instances": [{"mean radius": 1, "city": True}, {"mean radius": 2, "city": False},
                                     {"mean radius": 3, "city": 75001}]}).encode()
    assert parse_request(body, TABLE_SIGNATURE, 4)["city"].tolist() == ["true", "false", "75001"]


def test_tokens_and_texts_are_checked_for_their_type_and_range():
    assert parse_request(b'{"instances": [[1, 2, 3], [4]]}', TOKENS_SIGNATURE, 4).tolist() == [[1, 2, 3], [4, 0, 0]]
    for bad, message in ((b'{"instances": [[1, 10]]}', "outside 1..9"), (b'{"instances": [[0]]}', "outside"),
                         (b'{"instances": [[1.5]]}', "not an integer"), (b'{"instances": [[true]]}', "not an integer"),
                         (b'{"instances": [[]]}', "non-empty list"), (b'{"instances": [[' + b"9" * 4400 + b"]]}",
                                                                      "more than 4300 digits")):
        assert message in str(refused(bad, TOKENS_SIGNATURE))
    assert parse_request(b'{"instances": ["a good film"]}', TEXT_SIGNATURE, 4).tolist() == ["a good film"]
    assert "instance 1 is not a string" in str(refused(b'{"instances": ["ok", 3]}', TEXT_SIGNATURE))
    assert "instance 0 holds a lone surrogate" in str(refused(b'{"instances": ["a \\ud800 b"]}', TEXT_SIGNATURE))


def test_non_finite_predictions_are_refused_naming_the_instances():
    check_predictions(np.array([[0.2, 0.8], [1.0, 0.0]], dtype=np.float32))
    with pytest.raises(BadRequest, match=r"instance\(s\) \[1, 2\]: the model's prediction is not finite") as bad:
        check_predictions(np.array([[0.2, 0.8], [np.nan, 0.1], [np.inf, 0.0]], dtype=np.float32))
    assert bad.value.status == 422


@pytest.mark.parametrize("content_type, json_", [("application/json", True), ("Application/JSON; charset=utf-8", True),
                                                 (None, True), ("text/plain", False),
                                                 ("application/x-www-form-urlencoded", False),
                                                 ("multipart/form-data; boundary=x", False), ("", False)])
def test_only_json_content_types_are_taken(content_type, json_):
    assert is_json(content_type) is json_


def test_a_body_is_refused_as_soon_as_it_passes_the_limit():
    read = []

    async def chunks(n):
        for _ in range(n):
            read.append(1)
            yield b"x" * 100

    assert asyncio.run(read_body(chunks(3), 300)) == b"x" * 300
    with pytest.raises(BadRequest, match="at most 250 \\(serve.max_body_bytes\\)") as bad:
        asyncio.run(read_body(chunks(1000), 250))
    assert bad.value.status == 413 and len(read) == 3 + 3  # stopped at the third chunk of the second body


# Property tests: arbitrary JSON (written as text, so that it can hold numbers Python cannot print, NaN
# and lone surrogates) goes in; the parser returns a valid batch or refuses it with BadRequest, never
# anything else.
STRINGS = st.one_of(st.text(max_size=12).map(json.dumps),
                    st.sampled_from(['"\\ud800"', '"a\\udfffb"', '"true"', '"missing"', '"1e5"', '""']))
NUMBERS = st.one_of(
    st.integers(-10 ** 6, 10 ** 6).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.from_regex(r"-?[1-9][0-9]{0,45}(\.[0-9]{1,4})?([eE][-+]?[0-9]{1,3})?", fullmatch=True),
    st.sampled_from(["9" * 5000, "-" + "1" * 4301, "1e400", "-1e400", "3.4e38", "-3.4e38", "3.5e38", "1e-400",
                     "NaN", "Infinity", "-Infinity", "-0", str(2 ** 64), "340282346638528859811704183484516925441"]))
SCALARS = st.one_of(NUMBERS, NUMBERS, STRINGS, st.sampled_from(["true", "false", "null"]))


def array(items, size=None):
    lists = st.lists(items, max_size=6) if size is None else st.lists(items, min_size=size, max_size=size)
    return lists.map(lambda values: "[" + ",".join(values) + "]")


def obj(keys, values):
    return st.dictionaries(keys, values, max_size=5).map(
        lambda pairs: "{" + ",".join(f"{key}:{value}" for key, value in pairs.items()) + "}")


VALUES = st.recursive(SCALARS, lambda children: array(children) | obj(STRINGS, children), max_leaves=25)
COLUMNS = st.sampled_from(['"mean radius"', '"city"', '"zip"'])
INSTANCES = {  # instances of roughly the right form for each kind of model, so that the checks past the shape run
    "pixels": array(array(SCALARS, 2), 2) | array(array(NUMBERS, 2), 2) | VALUES,
    "tokens": array(NUMBERS) | array(SCALARS) | VALUES,
    "text": STRINGS | VALUES,
    "columns": obj(COLUMNS, SCALARS) | obj(COLUMNS, VALUES) | VALUES,
}
SIGNATURES = {"pixels": {"input": {"name": "pixels", "dtype": "float32", "shape": [2, 2]}},
              "tokens": TOKENS_SIGNATURE, "text": TEXT_SIGNATURE, "columns": TABLE_SIGNATURE}


def bodies(kind):
    return st.one_of(st.binary(max_size=64), st.text(max_size=64).map(lambda t: t.encode("utf-8", "surrogatepass")),
                     VALUES.map(str.encode),
                     array(INSTANCES[kind], None).map(lambda items: f'{{"instances": {items}}}'.encode()))


def valid_batch(batch, kind) -> bool:
    if kind == "pixels":
        return batch.dtype == np.float32 and batch.shape[1:] == (2, 2) and bool(np.isfinite(batch).all())
    if kind == "tokens":
        return batch.dtype == np.int32 and bool(((batch >= 0) & (batch <= 9)).all() and (batch[:, 0] > 0).all())
    if kind == "text":
        return all(isinstance(text, str) and text.encode("utf-8") is not None for text in batch)
    return (batch["mean_radius"].dtype == np.float32 and not np.isinf(batch["mean_radius"]).any()
            and all(isinstance(value, str) and value.encode("utf-8") is not None for value in batch["city"]))


@pytest.mark.parametrize("kind", sorted(SIGNATURES))
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_parser_returns_a_valid_batch_or_refuses_with_a_client_error(kind, data):
    body = data.draw(bodies(kind))
    try:
        batch = parse_request(body, SIGNATURES[kind], max_batch=4)
    except BadRequest as refusal:
        message = str(refusal)
        assert refusal.status in (400, 413) and message and "\n" not in message and len(message) < 400
        json.dumps({"error": message}).encode("ascii")  # the error response can be written
        return
    assert valid_batch(batch, kind)


# The server over real sockets on loopback.
TIMEOUT = 1.0  # serve.request_timeout_seconds of the servers below


@pytest.fixture(scope="module")
def server(image_export, tmp_path_factory):
    project = tmp_path_factory.mktemp("serving")
    defaults = yaml.safe_load((ROOT / "params.yaml").read_text())
    write_params(project, with_changes(defaults, export={"model_name": "digits"},
                                       serve={"max_batch": 4, "max_body_bytes": 20000,
                                              "request_timeout_seconds": TIMEOUT}))
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "stages.serve", "--port", str(port), "--model-dir",
                                str(image_export["folder"])], cwd=project, env={**os.environ, "PYTHONPATH": str(ROOT)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_until_serving(port, "digits", timeout=90):
        process.kill()
        pytest.fail("the server did not start")
    yield port, process
    process.terminate()
    process.wait(timeout=30)


def request(port, method, path, body=None, content_type="application/json"):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request(method, path, body=body, headers={"Content-Type": content_type} if content_type else {})
    response = connection.getresponse()
    payload = json.loads(response.read() or b"null")
    connection.close()
    return response.status, payload


def test_the_server_reports_its_status_and_metadata(server):
    port, _ = server
    status, payload = request(port, "GET", "/v1/models/digits")
    assert status == 200 and payload["model_version_status"][0]["state"] == "AVAILABLE"
    status, payload = request(port, "GET", "/v1/models/digits/metadata")
    assert status == 200 and payload["metadata"]["input"]["shape"] == [8, 8]


def test_a_prediction_over_http_matches_the_model_s_own_output(server, image_export):
    port, _ = server
    instances = image_export["inputs"][:3].tolist()
    for content_type in ("application/json", "application/json; charset=utf-8", None):
        status, payload = request(port, "POST", "/v1/models/digits:predict", json.dumps({"instances": instances}),
                                  content_type)
        assert status == 200
        assert np.allclose(payload["predictions"], image_export["expected"][:3], atol=1e-5)


def test_bad_requests_get_4xx_with_a_message_and_the_server_keeps_serving(server):
    port, process = server
    predict = "/v1/models/digits:predict"
    cases = [
        ("POST", predict, "{not json", 400, "malformed JSON"),
        ("POST", predict, json.dumps({"instances": [[1, 2, 3]]}), 400, "shape"),
        ("POST", predict, json.dumps({"instances": [[["a"] * 8] * 8]}), 400, "not a number"),
        ("POST", predict, '{"instances": [' + "9" * 5000 + "]}", 400, "more than 4300 digits"),
        ("POST", predict, '{"instances": [[["\\ud800"]]]}', 400, "shape"),
        ("POST", predict, json.dumps({"instances": [IMAGE] * 5}), 413, "at most 4"),
        ("POST", predict, json.dumps({"instances": [IMAGE] * 4, "pad": "x" * 30000}), 413, "at most 20000"),
        ("POST", "/v1/models/other:predict", json.dumps({"instances": [IMAGE]}), 404, "Servable not found"),
        ("GET", "/v1/models/other", None, 404, "Servable not found"),
        ("GET", "/nothing/here", None, 404, "Not Found"),
        ("GET", "/docs", None, 404, "Not Found"),
        ("GET", "/openapi.json", None, 404, "Not Found"),
        ("DELETE", "/v1/models/digits", None, 405, "Method Not Allowed"),
    ]
    for method, path, body, expected_status, message in cases:
        status, payload = request(port, method, path, body)
        assert (status, message in payload["error"]) == (expected_status, True), (path, body and body[:60], payload)
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        status, payload = request(port, "POST", predict, json.dumps({"instances": [IMAGE]}), content_type)
        assert status == 415 and "Content-Type: application/json" in payload["error"]
    status, payload = request(port, "POST", predict, json.dumps({"instances": [[[3.4e38, -3.4e38] * 4] * 8]}))
    assert status == 422 and "instance(s) [0]" in payload["error"] or status == 200 and np.isfinite(
        payload["predictions"]).all()
    assert request(port, "GET", "/v1/models/digits")[0] == 200 and process.poll() is None


def connect(port) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


HEADERS = b"POST /v1/models/digits:predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"


def test_a_chunked_body_is_refused_with_413_while_it_is_sent(server):
    port, process = server
    chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
    with connect(port) as connection:
        connection.sendall(HEADERS + b"Transfer-Encoding: chunked\r\n\r\n")
        sent, answer, start = 0, b"", time.monotonic()
        with contextlib.suppress(OSError):  # the server may close before the last chunk is written
            while sent < 64_000_000 and time.monotonic() - start < 20:
                connection.sendall(chunk)
                sent += 65536
                if select.select([connection], [], [], 0)[0]:
                    break
        answer, _ = closed_within(connection, 10)
    # The kernel's socket buffers hold a few MB; the server stopped reading at 20,000 bytes.
    assert answer.startswith(b"HTTP/1.1 413") and b"at most 20000" in answer, (sent, answer[:200])
    assert sent < 32_000_000 and b"connection: close" in answer.lower()
    assert request(port, "GET", "/v1/models/digits")[0] == 200 and process.poll() is None


def closed_within(connection, seconds) -> tuple:
    """(what the server sent, seconds until it closed the connection); fails past `seconds`."""
    connection.settimeout(seconds)
    received, start = b"", time.monotonic()
    while True:
        try:
            data = connection.recv(65536)
        except ConnectionResetError:  # a server closing with unread bytes resets the connection
            data = b""
        if not data:
            return received, time.monotonic() - start
        received += data


@pytest.mark.parametrize("stall", ["nothing", "partial headers", "trickled headers"])
def test_a_client_that_does_not_send_its_headers_is_cut_off(server, stall):
    port, _ = server
    with connect(port) as connection:
        start = time.monotonic()
        if stall == "partial headers":
            connection.sendall(b"POST /v1/models/digits:predict HTTP/1.1\r\nHost: x\r\n")
        if stall == "trickled headers":  # a byte every 0.2 s: each one arrives well within the timeout
            with contextlib.suppress(OSError):
                for byte in HEADERS[:40]:
                    connection.sendall(bytes([byte]))
                    if select.select([connection], [], [], 0.2)[0]:
                        break
        received, _ = closed_within(connection, 10)
        assert received == b"" and time.monotonic() - start < TIMEOUT + 4


@pytest.mark.parametrize("malformed", [b"GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n",
                                       HEADERS + b"Content-Length: abc\r\n\r\n",
                                       HEADERS + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n"])
def test_malformed_http_gets_400_with_an_error(server, malformed):
    port, _ = server
    with connect(port) as connection:
        connection.sendall(malformed)
        received, _ = closed_within(connection, 10)
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and json.loads(body) == {"error": "malformed HTTP request: Invalid HTTP "
                                                                              "request received."}


def test_a_client_that_does_not_send_its_body_gets_408(server):
    port, process = server
    with connect(port) as connection:
        connection.sendall(HEADERS + b"Content-Length: 1000\r\n\r\n" + b'{"instances": ')
        received, seconds = closed_within(connection, 10)
    assert received.startswith(b"HTTP/1.1 408") and b"serve.request_timeout_seconds" in received
    assert seconds < TIMEOUT + 4
    with connect(port) as connection:  # an early answer (unknown model) does not wait for the rest of the body
        connection.sendall(HEADERS.replace(b"digits", b"other") + b"Content-Length: 100000\r\n\r\n{")
        received, seconds = closed_within(connection, 10)
    assert received.startswith(b"HTTP/1.1 404") and seconds < TIMEOUT + 4 and process.poll() is None


class Outputs:
    def __init__(self, array):
        self.array = array

    def numpy(self):
        return self.array


class FakeModel:
    """A model that returns `outputs` for any batch, or raises RuntimeError when `outputs` is None."""

    def __init__(self, outputs=None):
        self.outputs = outputs

    def serve(self, batch):
        if self.outputs is None:
            raise RuntimeError("secret internals /srv/model")
        return Outputs(np.broadcast_to(self.outputs, (len(batch), len(self.outputs))))


@contextlib.contextmanager
def in_thread(model, docs=False):
    """build_app(model) served by uvicorn in a thread, with the server's protocol; yields the port."""
    import uvicorn

    app = build_app(IMAGE_SIGNATURE, model, "digits", 4, 20000, TIMEOUT, docs)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, http=http_protocol(TIMEOUT),
                                           log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        assert wait_until_serving(port, "digits", timeout=20)
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_a_server_fault_is_500_with_an_error_and_no_traceback():
    body = json.dumps({"instances": [IMAGE]})
    with in_thread(FakeModel()) as port:
        status, payload = request(port, "POST", "/v1/models/digits:predict", body)
        assert (status, payload) == (500, {"error": SERVER_FAULT})
        assert request(port, "GET", "/v1/models/digits")[0] == 200


def test_non_finite_predictions_get_422_naming_the_instance():
    with in_thread(FakeModel(np.array([np.nan, 0.5], dtype=np.float32))) as port:
        status, payload = request(port, "POST", "/v1/models/digits:predict", json.dumps({"instances": [IMAGE]}))
    assert status == 422 and payload["error"].startswith("instance(s) [0]: the model's prediction is not finite")


def status_of(port, path) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path)
    status = connection.getresponse().status
    connection.close()
    return status


def test_the_openapi_pages_are_served_only_when_asked_for():
    model = FakeModel(np.array([0.5, 0.5], dtype=np.float32))
    with in_thread(model, docs=True) as port:
        assert status_of(port, "/openapi.json") == 200 and status_of(port, "/docs") == 200
    with in_thread(model) as port:
        assert status_of(port, "/openapi.json") == 404 and status_of(port, "/docs") == 404


def test_the_load_benchmark_runs_on_a_tiny_exported_model(image_export):
    result = subprocess.run([sys.executable, "bench/serve_load.py", "--model-dir", str(image_export["folder"])],
                            cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "UWF_BENCH_TINY": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "100 requests of 1 instance(s), 2 concurrent clients" in result.stdout and "errors 0" in result.stdout


def test_columns_collect_left_out_may_be_sent_and_are_not_read():
    signature = {**TABLE_SIGNATURE, "input": {**TABLE_SIGNATURE["input"], "ignored": ["PassengerId", "Name"]}}
    row = {"mean radius": 12.5, "city": "paris", "PassengerId": 7, "Name": "Braund, Mr. Owen Harris"}
    batch = parse_request(json.dumps({"instances": [row]}).encode(), signature, 4)
    assert sorted(batch) == ["city", "mean_radius"] and batch["city"].tolist() == ["paris"]
    assert "unknown column(s) ['zip']" in str(refused({"instances": [{**row, "zip": 1}]}, signature))
