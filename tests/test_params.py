import copy
import re
import runpy
import subprocess
import sys

import pytest
import yaml

from stages.lib.errors import PipelineError
from stages.lib.params import load_params
from tests.conftest import ROOT, with_changes, write_params


def changed(params: dict, key: str, value) -> dict:
    """A copy of params with one dotted key set (list items by index: regularize.candidates.0.units)."""
    changed = copy.deepcopy(params)
    *parents, last = [int(part) if part.isdigit() else part for part in key.split(".")]
    node = changed
    for part in parents:
        node = node[part]
    node[last] = value
    return changed


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


@pytest.mark.parametrize("key, value, named", [
    ("overfit.units", [-5], "overfit.units[0]': Input should be greater than or equal to 1, got -5"),
    ("overfit.units", [], "overfit.units'"),
    ("overfit.units", [64.5], "overfit.units[0]': Input should be a valid integer"),
    ("regularize.candidates.0.units", [0], "regularize.candidates[0].units[0]"),
    ("studies.digits.capacity_large", [512, 0], "studies.digits.capacity_large[1]"),
    ("overfit.learning_rate", float("inf"), "overfit.learning_rate': Input should be a finite number"),
    ("regularize.learning_rate", float("nan"), "regularize.learning_rate': Input should be a finite number"),
    ("overfit.learning_rate", 0, "overfit.learning_rate': Input should be greater than 0"),
    ("overfit.learning_rate", "0.001", "overfit.learning_rate': Input should be a valid number, got '0.001'"),
    ("overfit.learning_rate", True, "overfit.learning_rate': Input should be a valid number, got True"),
    ("split.folds", "5", "split.folds': Input should be a valid integer, got '5'"),
    ("split.folds", 5.0, "split.folds': Input should be a valid integer, got 5.0"),
    ("split.folds", True, "split.folds': Input should be a valid integer, got True"),
    ("seed", True, "seed': Input should be a valid integer, got True"),
    ("seed", -1, "seed': Input should be greater than or equal to 0"),
    ("seed", 2**32, "seed': Input should be less than 4294967296"),
    ("split.shuffle", "no", "split.shuffle': Input should be a valid boolean, got 'no'"),
    ("split.shuffle", 1, "split.shuffle': Input should be a valid boolean, got 1"),
    ("split.test_fraction", 1.5, "split.test_fraction'"),
    ("split.test_fraction", float("nan"), "split.test_fraction': Input should be a finite number"),
    ("regularize.candidates.1.l2", -0.1, "regularize.candidates[1].l2"),
    ("regularize.candidates.1.l2", float("inf"), "regularize.candidates[1].l2': Input should be a finite number"),
    ("regularize.candidates.2.dropout", 1.0, "regularize.candidates[2].dropout"),
    ("regularize.candidates.0.early_stopping_patience", 0, "regularize.candidates[0].early_stopping_patience"),
    ("vectorize.text.ngrams", 3, "vectorize.text.ngrams"),
    ("vectorize.text.ngrams", True, "vectorize.text.ngrams': Input should be a valid integer, got True"),
    ("task.imbalance_ratio", float("inf"), "task.imbalance_ratio': Input should be a finite number"),
    ("collect.limit", "100", "collect.limit': Input should be a valid integer, got '100'"),
    ("collect.limit", 0, "collect.limit'"),
    ("evaluate.seeds", 0, "evaluate.seeds': Input should be greater than or equal to 1"),
    ("evaluate.seeds", 2.0, "evaluate.seeds': Input should be a valid integer, got 2.0"),
    ("evaluate.bootstrap_samples", 10, "evaluate.bootstrap_samples': Input should be greater than or equal to 100"),
    ("validate.max_js_divergence", 2, "validate.max_js_divergence'"),
    ("export.max_output_difference", float("inf"), "export.max_output_difference': Input should be a finite"),
    ("optimize.sparsity", 1, "optimize.sparsity'"),
    ("evaluate.min_skill_over_baseline", 1.5, "evaluate.min_skill_over_baseline'"),
    ("serve.port", "8501", "serve.port': Input should be a valid integer, got '8501'"),
    ("serve.port", 70000, "serve.port'"),
    ("studies.digits.dropout", 1.0, "studies.digits.dropout'"),
    ("studies.digits.chance_margin", 5, "studies.digits.chance_margin'"),
    ("monitor.max_linf_distance", float("-inf"), "monitor.max_linf_distance'"),
    ("studies.digits.max_examples", 0, "studies.digits.max_examples': Input should be greater than or equal to 1"),
    ("studies.table.max_examples", -5, "studies.table.max_examples': Input should be greater than or equal to 1"),
    ("studies.table.max_examples", 2.0, "studies.table.max_examples': Input should be a valid integer, got 2.0"),
    ("vectorize.max_categories", 1, "vectorize.max_categories': Input should be greater than or equal to 2"),
    ("vectorize.index_above", 0, "vectorize.index_above': Input should be 'auto', got 0"),
    ("vectorize.index_above", "always", "vectorize.index_above"),
    ("overfit.stop_once_overfit", 0, "overfit.stop_once_overfit': Input should be greater than or equal to 1"),
    ("validate.leakage_max_rows", 10, "validate.leakage_max_rows': Input should be greater than or equal to 100"),
    ("regularize.batch_size", "big", "regularize.batch_size"),
])
def test_every_bad_value_is_named_in_one_line_without_coercion(default_params, tmp_path, key, value, named):
    write_params(tmp_path, changed(default_params, key, value))
    with pytest.raises(PipelineError) as error:
        load_params(tmp_path / "params.yaml")
    message = str(error.value)
    assert f"params.yaml: bad value for '{named}" in message and message.endswith("; fix it and rerun")
    assert "\n" not in message


@pytest.mark.parametrize("key", ["tarin", "validate_", "split.foldz", "collect.table.colour", "vectorize.text.ngram",
                                 "regularize.candidates.1.l3", "studies.digits.unitz", "studies.cifar"])
def test_an_unknown_key_anywhere_is_named(default_params, tmp_path, key):
    write_params(tmp_path, changed(default_params, key, default_params["studies"]["digits"] if key == "studies.cifar" else 3))
    shown = key.replace(".candidates.1.", ".candidates[1].")
    with pytest.raises(PipelineError, match=rf"params.yaml: unknown key '{re.escape(shown)}'.*; fix it and rerun$"):
        load_params(tmp_path / "params.yaml")


def test_whole_numbers_are_accepted_where_numbers_are_expected_and_read_as_floats(default_params, tmp_path):
    params = changed(changed(default_params, "overfit.learning_rate", 1), "validate.max_js_divergence", 1)
    write_params(tmp_path, changed(params, "regularize.candidates.1.l2", 0))
    loaded = load_params(tmp_path / "params.yaml")
    assert loaded.overfit.learning_rate == 1.0 and isinstance(loaded.overfit.learning_rate, float)
    assert loaded.validate_.max_js_divergence == 1.0 and loaded.regularize.candidates[1].l2 == 0.0


def test_yaml_reads_as_dvc_reads_it_exponents_are_numbers_and_a_repeated_key_is_refused(default_params, tmp_path):
    text = yaml.safe_dump(changed(default_params, "overfit.learning_rate", 0.5), sort_keys=False)
    (tmp_path / "params.yaml").write_text(text.replace("learning_rate: 0.5", "learning_rate: 1e-3"))
    assert load_params(tmp_path / "params.yaml").overfit.learning_rate == 0.001
    (tmp_path / "params.yaml").write_text(text.replace("learning_rate: 0.5", "learning_rate: .inf"))
    with pytest.raises(PipelineError, match="overfit.learning_rate': Input should be a finite number"):
        load_params(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text(text.replace("  folds: ", "  folds: 3\n  folds: "))
    with pytest.raises(PipelineError, match=r"params.yaml is not valid YAML: key 'folds' appears twice \(line \d+\)$"):
        load_params(tmp_path / "params.yaml")


def stage_commands() -> list:
    """Every stage's command in dvc.yaml (a foreach stage with its first item), and the commands reading params."""
    commands = []
    for stage in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].values():
        if "foreach" in stage:
            stage = {"cmd": stage["do"]["cmd"].replace("${item}", stage["foreach"][0])}
        commands.append(stage["cmd"].split()[2:])
    return commands + [["stages.serve"], ["stages.monitor", "batch.json"]]


@pytest.mark.parametrize("command", stage_commands(), ids=lambda command: command[0])
def test_whichever_stage_runs_refuses_an_unknown_key_first(default_params, project, command, monkeypatch, capsys):
    """Each stage as `python -m` runs it, in this process (a subprocess each would take minutes)."""
    write_params(project, {**default_params, "tarin": {"epochs": 3}})
    monkeypatch.setattr(sys, "argv", command)
    monkeypatch.delitem(sys.modules, command[0], raising=False)
    with pytest.raises(SystemExit) as exit:
        runpy.run_module(command[0], run_name="__main__")
    assert (exit.value.code, capsys.readouterr().err) == (1, "error: params.yaml: unknown key 'tarin'; fix it and rerun\n")
    assert sorted(p.name for p in project.iterdir()) == ["params.yaml"]


def test_the_studies_sample_size_is_null_for_every_example_or_a_count(default_params, tmp_path):
    assert default_params["studies"]["digits"]["max_examples"] is None  # the default run's studies see every example
    params = changed(changed(default_params, "studies.table.max_examples", None), "studies.text.max_examples", 1)
    write_params(tmp_path, params)
    loaded = load_params(tmp_path / "params.yaml")
    assert loaded.study_settings.max_examples is None
    assert loaded.studies["table"].max_examples is None and loaded.studies["text"].max_examples == 1
