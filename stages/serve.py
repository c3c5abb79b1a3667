"""serve: the exported model over REST, with TensorFlow Serving's request and response shapes.

    python -m stages.serve [--host 127.0.0.1] [--port 8501] [--model-dir models/export] [--docs]

Defaults come from params.yaml (serve, export.model_name). Stop it with Ctrl-C.
"""
import argparse

from stages.lib import paths
from stages.lib.errors import run_stage
from stages.lib.params import load_params
from stages.lib.serving import create_app, run


def main() -> None:
    params = load_params()
    settings = params.serve
    parser = argparse.ArgumentParser(prog="python -m stages.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    parser.add_argument("--model-dir", default=paths.EXPORT_DIR, help="an export stage's output (default: %(default)s)")
    parser.add_argument("--docs", action="store_true", default=settings.docs,
                        help="serve the OpenAPI pages /docs and /openapi.json (params serve.docs)")
    args = parser.parse_args()
    name = params.export.model_name
    app = create_app(args.model_dir, name, settings.max_batch, settings.max_body_bytes,
                     settings.request_timeout_seconds, args.docs)
    print(f"serve: POST http://{args.host}:{args.port}/v1/models/{name}:predict "
          f"with {{\"instances\": [...]}}", flush=True)
    run(app, args.host, args.port, settings.request_timeout_seconds)


if __name__ == "__main__":
    run_stage(main)
