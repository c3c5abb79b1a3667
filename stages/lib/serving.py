"""A REST server for the exported SavedModel with TensorFlow Serving's request and response shapes.

    GET  /v1/models/<name>            -> {"model_version_status": [{"version": "1", "state": "AVAILABLE", ...}]}
    GET  /v1/models/<name>/metadata   -> the input and output the model expects (signature.json)
    POST /v1/models/<name>:predict    {"instances": [...]} -> {"predictions": [...]}

Bad requests get a 4xx status and {"error": "..."}, as TensorFlow Serving answers; a request
never reaches the model unless every instance has the model's shape and type.
"""
import json
from pathlib import Path

import numpy as np

from stages.lib.errors import PipelineError
from stages.lib.export import pad
from stages.lib.features import MISSING_CATEGORY

VERSION = "1"
_FLOAT32_MAX = float(np.finfo(np.float32).max)


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _numbers(instances: list, shape: list) -> np.ndarray:
    """Images: every instance a nested list of finite numbers of exactly `shape`."""
    for index, instance in enumerate(instances):
        try:
            array = np.asarray(instance, dtype=object)
        except ValueError:
            array = np.empty(0)
        if array.shape != tuple(shape):
            raise BadRequest(f"instance {index} has shape {list(array.shape)}, the model takes {shape}")
        values = array.ravel()
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise BadRequest(f"instance {index} holds a value that is not a number: send numbers only")
        if not all(abs(v) <= _FLOAT32_MAX for v in values):  # also false for NaN
            raise BadRequest(f"instance {index} holds NaN, infinity or a number beyond float32: send finite numbers")
    return np.asarray(instances, dtype=np.float32)


def _tokens(instances: list, max_token: int) -> np.ndarray:
    """Token sequences: every instance a non-empty list of integer ids from 1 to max_token."""
    for index, instance in enumerate(instances):
        if not isinstance(instance, list) or not instance:
            raise BadRequest(f"instance {index} is not a non-empty list of token ids")
        if not all(isinstance(t, int) and not isinstance(t, bool) for t in instance):
            raise BadRequest(f"instance {index} holds a token id that is not an integer")
        if not all(1 <= t <= max_token for t in instance):
            raise BadRequest(f"instance {index} holds a token id outside 1..{max_token}")
    return pad(instances)


def _texts(instances: list) -> np.ndarray:
    for index, instance in enumerate(instances):
        if not isinstance(instance, str):
            raise BadRequest(f"instance {index} is not a string: send one text per instance")
    return np.asarray(instances, dtype=object)


def _column_value(value, dtype: str, where: str):
    if dtype == "float32":
        if value is None or (isinstance(value, float) and value != value):  # null or NaN: missing
            return np.nan
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not abs(value) <= _FLOAT32_MAX:
            raise BadRequest(f"{where}: {value!r} is not a number (send a number, or null when missing)")
        return value
    if value is None:
        return MISSING_CATEGORY
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise BadRequest(f"{where}: {value!r} is not a category (send a string, or null when missing)")
    return str(value)


def _columns(instances: list, columns: list) -> dict:
    """Tables: every instance a JSON object with a value (or null) for every column."""
    known = {c["column"] for c in columns}
    values = {c["input"]: [] for c in columns}
    for index, instance in enumerate(instances):
        if not isinstance(instance, dict):
            raise BadRequest(f"instance {index} is not a JSON object of column: value")
        missing = [c["column"] for c in columns if c["column"] not in instance]
        if missing:
            raise BadRequest(f"instance {index} lacks column(s) {missing[:5]}: send null for a missing value")
        unknown = sorted(set(instance) - known)
        if unknown:
            raise BadRequest(f"instance {index} has unknown column(s) {unknown[:5]}")
        for c in columns:
            values[c["input"]].append(_column_value(instance[c["column"]], c["dtype"],
                                                    f"instance {index}, column {c['column']!r}"))
    return {c["input"]: np.asarray(values[c["input"]], dtype=np.float32 if c["dtype"] == "float32" else object)
            for c in columns}


def parse_request(body: bytes, signature: dict, max_batch: int):
    """The request body as the model's input batch (a dict of columns for tables), or BadRequest naming
    what is wrong."""
    try:
        request = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BadRequest(f"malformed JSON: {error}") from None
    except RecursionError:
        raise BadRequest("malformed JSON: nested too deeply") from None
    if not isinstance(request, dict) or "instances" not in request:
        raise BadRequest('the request must be a JSON object with "instances": a list of inputs')
    instances = request["instances"]
    if not isinstance(instances, list) or not instances:
        raise BadRequest('"instances" must be a non-empty list')
    if len(instances) > max_batch:
        raise BadRequest(f"{len(instances)} instances in one request; at most {max_batch}: split the batch", 413)
    spec = signature["input"]
    if spec["name"] == "tokens":
        return _tokens(instances, spec["max_token"])
    if spec["name"] == "text":
        return _texts(instances)
    if spec["name"] == "columns":
        return _columns(instances, spec["columns"])
    return _numbers(instances, spec["shape"])


def read_signature(folder) -> dict:
    """An export folder's signature.json, checking that the SavedModel is there too."""
    folder = Path(folder)
    if not (folder / "signature.json").is_file() or not (folder / "saved_model").is_dir():
        raise PipelineError(f"{folder} holds no exported model: run `dvc repro export` first")
    return json.loads((folder / "signature.json").read_text())


def load_saved_model(folder):
    import tensorflow as tf

    return tf.saved_model.load(str(Path(folder) / "saved_model"))


def create_app(folder, model_name: str, max_batch: int, max_body_bytes: int):
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException

    signature = read_signature(folder)
    model = load_saved_model(folder)
    app = FastAPI(title=f"{model_name} (TensorFlow Serving REST API)")

    def error(message: str, status: int) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    @app.exception_handler(HTTPException)
    async def http_error(request, exc):  # unknown paths and methods, in TensorFlow Serving's error shape
        return error(str(exc.detail), exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request, exc):
        return error(str(exc), 400)

    def check_name(name: str):
        if name != model_name:
            return error(f"Servable not found for request: Latest({name})", 404)
        return None

    @app.get("/v1/models/{name}")
    def status(name: str):
        return check_name(name) or {"model_version_status": [
            {"version": VERSION, "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}

    @app.get("/v1/models/{name}/metadata")
    def metadata(name: str):
        return check_name(name) or {"model_spec": {"name": model_name, "version": VERSION}, "metadata": signature}

    @app.post("/v1/models/{name}:predict")
    async def predict(name: str, request: Request):
        missing = check_name(name)
        if missing:
            return missing
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_body_bytes:
            return error(f"request body of {declared} bytes; at most {max_body_bytes}", 413)
        body = await request.body()
        if len(body) > max_body_bytes:
            return error(f"request body of {len(body)} bytes; at most {max_body_bytes}", 413)
        try:
            batch = parse_request(body, signature, max_batch)
        except BadRequest as bad:
            return error(str(bad), bad.status)
        outputs = await run_in_threadpool(lambda: model.serve(batch).numpy())  # keeps the server answering
        return {"predictions": outputs.tolist()}

    return app


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now, for a server started next."""
    import socket

    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def wait_until_serving(port: int, name: str, timeout: float, host: str = "127.0.0.1") -> bool:
    """Poll GET /v1/models/<name> until it answers 200 (True) or `timeout` seconds pass (False)."""
    import http.client
    import time

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            connection = http.client.HTTPConnection(host, port, timeout=5)
            connection.request("GET", f"/v1/models/{name}")
            if connection.getresponse().status == 200:
                return True
        except OSError:
            time.sleep(0.3)
        finally:
            connection.close()
    return False
