"""A REST server for the exported SavedModel with TensorFlow Serving's request and response shapes.

    GET  /v1/models/<name>            -> {"model_version_status": [{"version": "1", "state": "AVAILABLE", ...}]}
    GET  /v1/models/<name>/metadata   -> the input and output the model expects (signature.json)
    POST /v1/models/<name>:predict    {"instances": [...]} -> {"predictions": [...]}

Bad requests get a 4xx status and {"error": "..."}, as TensorFlow Serving answers; a request
never reaches the model unless every instance has the model's shape and type. A server fault
gets 500 and {"error": "..."}, its traceback only in the server's log. Hostile clients are cut
off: a body is counted while it is read and refused with 413 past the limit, and a request
whose headers or body do not arrive within the request timeout is dropped.
"""
import asyncio
import json
import sys
from pathlib import Path

import numpy as np

from stages.lib.bad_request import BadRequest, show
from stages.lib.errors import PipelineError
from stages.lib.kinds import kind_of_input

VERSION = "1"
SERVER_FAULT = "internal server error; the server's log has the details"


def parse_request(body: bytes, signature: dict, max_batch: int):
    """The request body as the model's input batch (a dict of columns for tables), or BadRequest naming
    what is wrong."""
    try:
        request = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BadRequest(f"malformed JSON: {error}") from None
    except RecursionError:
        raise BadRequest("malformed JSON: nested too deeply") from None
    except ValueError:  # Python refuses to parse an integer literal this long (a denial-of-service guard)
        raise BadRequest(f"a number in the body has more than {sys.get_int_max_str_digits()} digits: "
                         "send numbers within float32") from None
    if not isinstance(request, dict) or "instances" not in request:
        raise BadRequest('the request must be a JSON object with "instances": a list of inputs')
    instances = request["instances"]
    if not isinstance(instances, list) or not instances:
        raise BadRequest('"instances" must be a non-empty list')
    if len(instances) > max_batch:
        raise BadRequest(f"{len(instances)} instances in one request; at most {max_batch}: split the batch", 413)
    spec = signature["input"]
    return kind_of_input(spec).parse(instances, spec)


def check_predictions(outputs: np.ndarray) -> None:
    """422 naming the instances whose predictions are NaN or infinite (inputs far outside the training data's
    range overflow float32 inside the model), rather than a response that is not JSON."""
    bad = np.flatnonzero(~np.isfinite(outputs.reshape(len(outputs), -1)).all(axis=1))
    if len(bad):
        raise BadRequest(f"instance(s) {bad[:5].tolist()}{' and more' if len(bad) > 5 else ''}: the model's "
                         "prediction is not finite; the input is far outside the range of the training data", 422)


def is_json(content_type) -> bool:
    """Whether a Content-Type header names JSON; a request without one is taken as JSON, as TensorFlow
    Serving takes it."""
    return content_type is None or content_type.split(";")[0].strip().lower() == "application/json"


async def read_body(chunks, limit: int) -> bytes:
    """The body from an async iterator of chunks, refused with 413 as soon as it passes `limit` bytes: a
    chunked body declares no length, so the count is the only guard."""
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise BadRequest(f"request body of more than {limit} bytes; at most {limit} "
                             "(serve.max_body_bytes): send fewer instances per request", 413)
    return bytes(body)


def read_signature(folder) -> dict:
    """An export folder's signature.json, checking that the SavedModel is there too."""
    folder = Path(folder)
    if not (folder / "signature.json").is_file() or not (folder / "saved_model").is_dir():
        raise PipelineError(f"{folder} holds no exported model: run `dvc repro export` first")
    return json.loads((folder / "signature.json").read_text())


def load_saved_model(folder):
    import tensorflow as tf

    return tf.saved_model.load(str(Path(folder) / "saved_model"))


def create_app(folder, model_name: str, max_batch: int, max_body_bytes: int, request_timeout: float,
               docs: bool = False):
    """The server of the model exported in `folder`."""
    return build_app(read_signature(folder), load_saved_model(folder), model_name, max_batch, max_body_bytes,
                     request_timeout, docs)


def build_app(signature: dict, model, model_name: str, max_batch: int, max_body_bytes: int,
              request_timeout: float, docs: bool = False):
    """The FastAPI app around `model` (anything with .serve(batch) -> a tensor). /docs and /openapi.json
    exist only with `docs`."""
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.requests import ClientDisconnect
    from starlette.responses import Response

    app = FastAPI(title=f"{model_name} (TensorFlow Serving REST API)", docs_url="/docs" if docs else None,
                  redoc_url="/redoc" if docs else None, openapi_url="/openapi.json" if docs else None)

    def error(message: str, status: int, close: bool = False) -> Response:
        # ASCII JSON: a message may quote the client's text, lone surrogates included. `close` for an answer
        # given before the body was read: the connection cannot carry another request.
        return Response(json.dumps({"error": message}), status, {"Connection": "close"} if close else None,
                        media_type="application/json")

    @app.exception_handler(HTTPException)
    async def http_error(request, exc):  # unknown paths and methods, in TensorFlow Serving's error shape
        return error(str(exc.detail), exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request, exc):
        return error(str(exc), 400)

    @app.exception_handler(Exception)
    async def server_fault(request, exc):  # Starlette re-raises it afterwards, so uvicorn logs the traceback
        return error(SERVER_FAULT, 500)

    def check_name(name: str, close: bool = False):
        if name != model_name:
            return error(f"Servable not found for request: Latest({show(name)})", 404, close)
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
        missing = check_name(name, close=True)
        if missing:
            return missing
        content_type = request.headers.get("content-type")
        if not is_json(content_type):
            return error(f"Content-Type {show(content_type)}: send the body as JSON with "
                         "Content-Type: application/json", 415, close=True)
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_body_bytes:
            return error(f"request body of {declared} bytes; at most {max_body_bytes} (serve.max_body_bytes): "
                         "send fewer instances per request", 413, close=True)
        try:
            async with asyncio.timeout(request_timeout):
                body = await read_body(request.stream(), max_body_bytes)
        except BadRequest as bad:
            return error(str(bad), bad.status, close=True)
        except TimeoutError:
            return error(f"the request body did not arrive within {request_timeout:g} s "
                         "(serve.request_timeout_seconds)", 408, close=True)
        except ClientDisconnect:
            return error("the client closed the connection before sending the body", 400, close=True)
        try:
            batch = parse_request(body, signature, max_batch)
            outputs = await run_in_threadpool(lambda: model.serve(batch).numpy())  # keeps the server answering
            check_predictions(outputs)
        except BadRequest as bad:
            return error(str(bad), bad.status)
        return Response(json.dumps({"predictions": outputs.tolist()}), media_type="application/json")

    return app


def http_protocol(request_timeout: float):
    """uvicorn's h11 protocol, closing a connection on which no complete request arrives within
    `request_timeout` seconds of connecting or of the previous answer. uvicorn alone waits forever for
    headers sent a byte at a time, and for the rest of a body it has already answered."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class Protocol(H11Protocol):
        def connection_made(self, transport):
            super().connection_made(transport)
            self.deadline = self.loop.call_later(request_timeout, self.expire)

        def on_response_complete(self):
            super().on_response_complete()
            self.deadline.cancel()
            self.deadline = self.loop.call_later(request_timeout, self.expire)

        def connection_lost(self, exc):
            self.deadline.cancel()
            super().connection_lost(exc)

        def expire(self):
            if self.cycle is None or self.cycle.response_complete:  # a request being answered has its own deadline
                self.transport.close()

        def send_400_response(self, msg: str):  # malformed HTTP, answered as uvicorn does but in the error shape
            import h11

            body = json.dumps({"error": f"malformed HTTP request: {msg}"}).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body)),
                       (b"connection", b"close")]
            for event in (h11.Response(status_code=400, headers=headers), h11.Data(data=body), h11.EndOfMessage()):
                self.transport.write(self.conn.send(event))
            self.transport.close()

    return Protocol


def run(app, host: str, port: int, request_timeout: float) -> None:
    """Serve `app` until Ctrl-C."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning", http=http_protocol(request_timeout))


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
