"""TensorFlow without its start-up chatter, so that a stage prints its own lines and a failure is one line.

Importing TensorFlow loads C++ libraries whose static initializers log through absl before
anything can configure it ("WARNING: All log messages before absl::InitializeLog() ...",
"I0000 ... port.cc:153] oneDNN custom operations are on ..."): TF_CPP_MIN_LOG_LEVEL does not
reach those. So `install()`, run by `stages/__init__.py` before any stage code, pins
TF_CPP_MIN_LOG_LEVEL for the logs after start-up and filters file descriptor 2 while
`tensorflow` is first imported: absl-formatted lines are dropped, anything else is passed on.
Only the standard library is used here: every command imports this module.
"""
import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile

# absl's notice before its first line, and its line format: I0000 00:00:1796160151.726914    4836 port.cc:153] ...
ABSL_LINE = re.compile(r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
                       r"|[IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.-]+:\d+\] .*")


def without_absl_lines(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if not ABSL_LINE.fullmatch(line.rstrip("\r\n")))


@contextlib.contextmanager
def absl_lines_dropped():
    """Send file descriptor 2 to a temporary file meanwhile, then pass on all but absl's lines."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to keep clean
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = without_absl_lines(captured.read().decode(errors="replace"))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


class _QuietLoader(importlib.abc.Loader):
    """Runs the real loader of `tensorflow` inside absl_lines_dropped, then steps out of the way."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self.loader
        with absl_lines_dropped():
            self.loader.exec_module(module)


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Intercepts the first `import tensorflow` (Keras' included) once, then leaves sys.meta_path."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def install() -> None:
    """Pin TensorFlow's C++ log level and drop absl's start-up lines when tensorflow gets imported."""
    # Pinned rather than defaulted: a TF_CPP_MIN_LOG_LEVEL=0 in the user's environment would turn
    # every stage's output (and one-line errors) into pages of C++ logs.
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietTensorFlowFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowFinder())
