"""serve: the exported model over REST, with TensorFlow Serving's request and response shapes.

    python -m stages.serve [--host 127.0.0.1] [--port 8501] [--model-dir models/export]

Defaults come from params.yaml (serve, export.model_name). Stop it with Ctrl-C.
"""
import argparse

from stages.lib import paths
from stages.lib.errors import run_stage
from stages.lib.params import load_params
from stages.lib.serving import create_app


def main() -> None:
    params = load_params()
    parser = argparse.ArgumentParser(prog="python -m stages.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=params.serve.host)
    parser.add_argument("--port", type=int, default=params.serve.port)
    parser.add_argument("--model-dir", default=paths.EXPORT_DIR, help="an export stage's output (default: %(default)s)")
    args = parser.parse_args()
    import uvicorn

    name = params.export.model_name
    app = create_app(args.model_dir, name, params.serve.max_batch, params.serve.max_body_bytes)
    print(f"serve: POST http://{args.host}:{args.port}/v1/models/{name}:predict "
          f"with {{\"instances\": [...]}}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    run_stage(main)
