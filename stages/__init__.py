"""DVC stages of the universal workflow; run each as `python -m stages.<name>`."""
import sys

from stages.lib import quiet

# Every stage, command and benchmark imports this package first: TensorFlow's C++ start-up chatter
# (CPU features, oneDNN) says nothing a user can act on and would bury a stage's one-line error.
quiet.install()

try:
    import pydantic  # noqa: F401
    import yaml  # noqa: F401
except ImportError:
    sys.exit(
        f"error: {sys.executable} lacks the project's dependencies; "
        "run `bash setup.sh` once, then `source .venv/bin/activate` before `dvc repro`"
    )
