"""One error type for every problem a user can fix, and the stage entry point."""
import sys
from typing import Callable


class PipelineError(Exception):
    """A problem with the input or params that the user must fix; its message is one line."""


def as_written(value) -> str:
    """A data value in a message: text in quotes, numbers as plain numbers (1, not np.float64(1.0))."""
    value = value.item() if hasattr(value, "item") and hasattr(value, "dtype") else value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return repr(value) if isinstance(value, str) else str(value)


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's main; a PipelineError becomes a one-line message and exit status 1."""
    try:
        main()
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
