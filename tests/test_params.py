import subprocess
import sys

import pytest

from stages.lib.errors import PipelineError
from stages.lib.params import load_params
from tests.conftest import ROOT, with_changes, write_params


def test_default_params_load(default_params, tmp_path):
    write_params(tmp_path, default_params)
    params = load_params(tmp_path / "params.yaml")
    assert params.task.dataset == "digits"
    assert params.validate_.max_class_proportion_gap == default_params["validate"]["max_class_proportion_gap"]
    assert [c.name for c in params.regularize.candidates] == [c["name"] for c in default_params["regularize"]["candidates"]]


def test_missing_key_is_named(default_params, tmp_path):
    del default_params["overfit"]["epochs"]
    write_params(tmp_path, default_params)
    with pytest.raises(PipelineError, match=r"params.yaml: missing key 'overfit.epochs'"):
        load_params(tmp_path / "params.yaml")


def test_unknown_key_is_named(default_params, tmp_path):
    default_params["split"]["foldz"] = 3
    write_params(tmp_path, default_params)
    with pytest.raises(PipelineError, match=r"unknown key 'split.foldz'"):
        load_params(tmp_path / "params.yaml")


def test_unknown_section_is_named(default_params, tmp_path):
    default_params["tarin"] = {}
    write_params(tmp_path, default_params)
    with pytest.raises(PipelineError, match=r"unknown key 'tarin'"):
        load_params(tmp_path / "params.yaml")


@pytest.mark.parametrize("section, values, fragment", [
    ("split", {"protocol": "bootstrap"}, "split.protocol"),
    ("split", {"test_fraction": 0.5, "validation_fraction": 0.45}, "test_fraction + validation_fraction"),
    ("task", {"dataset": "cifar"}, "task.dataset"),
    ("overfit", {"epochs": 0}, "overfit.epochs"),
])
def test_bad_values_are_named(default_params, tmp_path, section, values, fragment):
    write_params(tmp_path, with_changes(default_params, **{section: values}))
    with pytest.raises(PipelineError, match=fragment.replace("+", r"\+")):
        load_params(tmp_path / "params.yaml")


def test_duplicate_candidate_names_refused(default_params, tmp_path):
    candidates = default_params["regularize"]["candidates"]
    write_params(tmp_path, with_changes(default_params, regularize={"candidates": candidates + candidates[:1]}))
    with pytest.raises(PipelineError, match="candidate names must be unique"):
        load_params(tmp_path / "params.yaml")


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(PipelineError, match="not found"):
        load_params(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text("seed: [1,\n")
    with pytest.raises(PipelineError, match="not valid YAML"):
        load_params(tmp_path / "params.yaml")


def test_stage_exits_nonzero_with_one_line_and_writes_nothing(default_params, tmp_path):
    del default_params["collect"]["limit"]
    write_params(tmp_path, default_params)
    result = subprocess.run([sys.executable, "-m", "stages.collect"], cwd=tmp_path, capture_output=True, text=True,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1
    assert result.stderr.strip() == "error: params.yaml: missing key 'collect.limit'; fix it and rerun"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]
