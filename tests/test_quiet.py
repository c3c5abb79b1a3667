"""TensorFlow's start-up logs stay out of a stage's output, whatever the environment asks for."""
import os
import subprocess
import sys

import numpy as np

from stages.lib import quiet
from stages.lib.artifacts import write_features
from stages.lib.io import write_json
from tests.conftest import ROOT, classification_task, write_params

# What TensorFlow 2.21 writes on importing it on a CPU with AVX-512 VNNI/BF16 (oneDNN on), once per library.
ONEDNN_NOISE = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "I0000 00:00:1796160151.726914    4836 port.cc:153] oneDNN custom operations are on. You may see slightly "
    "different numerical results due to floating-point round-off errors from different computation orders. "
    "To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.\n"
    "W0000 00:00:1796160151.930272    4836 cpu_feature_guard.cc:227] This TensorFlow binary is optimized.\n"
    "E1127 10:02:03.123456   77 cuda_dnn.cc:8310] Unable to register cuDNN factory\n"
)


def test_absl_lines_go_and_everything_else_stays():
    own = "collect: 1797 examples\n/x.py:3: UserWarning: I0000 is not a log line here\nerror: a one-line error\n"
    assert quiet.without_absl_lines(ONEDNN_NOISE + own + ONEDNN_NOISE) == own


def test_file_descriptor_2_is_filtered_while_tensorflow_is_imported(capfd):
    with quiet.absl_lines_dropped():
        os.write(2, (ONEDNN_NOISE + "a real warning\n" + ONEDNN_NOISE).encode())
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "a real warning\nafter\n"


def test_installing_pins_the_log_level_and_intercepts_tensorflow_once(monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    quiet.install()
    quiet.install()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
    finders = [f for f in sys.meta_path if isinstance(f, quiet._QuietTensorFlowFinder)]
    assert len(finders) == 1 and finders[0].find_spec("numpy") is None


def test_a_stage_that_imports_tensorflow_fails_with_exactly_one_line_even_with_tensorflow_logs_asked_for(
        tmp_path, default_params):
    """optimize imports Keras and TensorFlow, then finds no model: its stderr must be that one error."""
    write_params(tmp_path, default_params)
    write_json(tmp_path / "reports/task.json", classification_task(3).to_dict())
    write_features(tmp_path / "data/features/test.npz", np.zeros((3, 4), np.float32), np.array([0, 1, 2]))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "0", "TF_ENABLE_ONEDNN_OPTS": "1"}
    result = subprocess.run([sys.executable, "-m", "stages.optimize"], cwd=tmp_path, capture_output=True, text=True,
                            env=env)
    assert result.returncode == 1
    assert result.stderr == "error: models/regularized/model.keras is missing: run `dvc repro` to train it\n"
