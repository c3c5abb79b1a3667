"""DVC stages of the universal workflow; run each as `python -m stages.<name>`."""
import os
import sys

# TensorFlow's C++ start-up chatter (CPU features, oneDNN) says nothing a user can act on.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

try:
    import pydantic  # noqa: F401
    import yaml  # noqa: F401
except ImportError:
    sys.exit(
        f"error: {sys.executable} lacks the project's dependencies; "
        "run `bash setup.sh` once, then `source .venv/bin/activate` before `dvc repro`"
    )
