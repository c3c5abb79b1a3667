"""The benchmarks in bench/ run for real, tiny (UWF_BENCH_TINY=1: few examples, 1-2 epochs, one
repeat), and print their figures. The figures themselves are not checked: benchmarks measure."""
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stages.lib.params import load_params
from tests.conftest import ROOT, built_once, copied_repo

NUMBER = r"[\d.]+"


def load_bench_module(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_bench(script: str, *args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "UWF_BENCH_TINY": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], cwd=cwd or ROOT, env=env,
                          capture_output=True, text=True, timeout=1200)


def bench(script: str, *args: str, cwd=None) -> str:
    result = run_bench(script, *args, cwd=cwd)
    assert result.returncode == 0, f"{script} {args} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def assert_lines(output: str, *patterns: str) -> None:
    """Every pattern matches a whole line of the output, in this order."""
    lines = output.splitlines()
    for pattern in patterns:
        found = [i for i, line in enumerate(lines) if re.fullmatch(pattern, line)]
        assert found, f"no line matches {pattern!r} in:\n{output}"
        lines = lines[found[0] + 1:]


def test_tiny_params_are_valid_params_and_keep_the_changes(tmp_path, monkeypatch):
    clone = load_bench_module("clone")
    monkeypatch.setenv("UWF_BENCH_TINY", "1")
    changes = {"task": {"dataset": "table"}, "collect": {"table": {"target": "progression"}}}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(clone.bench_params(changes)))
    params = load_params(path)
    assert params.task.dataset == "table" and params.collect.table.target == "progression"
    assert params.collect.table.path == yaml.safe_load((ROOT / "params.yaml").read_text())["collect"]["table"]["path"]
    assert params.collect.limit == 300 and params.split.protocol == "holdout"
    assert {sizes.epochs for sizes in params.studies.values()} == {2}
    monkeypatch.delenv("UWF_BENCH_TINY")
    assert clone.bench_params() == yaml.safe_load((ROOT / "params.yaml").read_text())


def tiny_clone(folder: Path) -> None:
    """A tiny clone after `dvc repro export`, committed, made by bench/clone.py."""
    output = bench("clone.py", str(folder), "--repro", "export")
    assert_lines(output, rf"fresh clone in {re.escape(str(folder))} \(tiny params\): {NUMBER} s .*",
                 rf"dvc repro export: {NUMBER} s", rf"git commit of the results: {NUMBER} s")


@pytest.fixture
def project(tmp_path_factory, tmp_path):
    """Each test's own copy of the tiny clone (made once per test run)."""
    return copied_repo(built_once(tmp_path_factory, "bench_clone", tiny_clone), tmp_path / "clone")


@pytest.mark.pipeline
def test_clone_in_a_temporary_folder_leaves_nothing_behind():
    output = bench("clone.py")
    match = re.fullmatch(rf"fresh clone in (\S+) \(tiny params\): {NUMBER} s to copy the code and run git init, dvc init",
                         output.strip())
    assert match, output
    assert not os.path.exists(match.group(1))


@pytest.mark.pipeline
def test_clone_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "something").write_text("")
    result = run_bench("clone.py", str(tmp_path))
    assert result.returncode == 1 and result.stderr.strip() == f"{tmp_path} is not empty: give a new or empty folder"


@pytest.mark.pipeline
def test_drift_check(project):
    output = bench("drift_check.py", "--repo", str(project))
    drifted = rf"most drifted: \w+ \w+ {NUMBER}, \w+ \w+ {NUMBER}, \w+ \w+ {NUMBER}"
    assert_lines(output, rf"test split as is: exit [01], 60 examples; {drifted}",
                 rf"test split shifted: exit 1, 60 examples; {drifted}", r"  error: drift in \d+ feature\(s\) .*")


@pytest.mark.pipeline
def test_regularize_vs_keras(project):
    output = bench("regularize_vs_keras.py", "--repo", str(project))
    assert_lines(output, r"candidate '\w+' \[\d+\], 2 epochs, 1 runs each, alternating, fresh process per run",
                 rf"pipeline fit \(stages.lib.models.fit_mlp\): median {NUMBER} s  runs \[{NUMBER}\]",
                 rf"bare Keras script: +median {NUMBER} s  runs \[{NUMBER}\]",
                 rf"ratio pipeline / bare: {NUMBER} \(goal <= 1.05\)")
    named = bench("regularize_vs_keras.py", "--repo", str(project), "--candidate", "dropout")
    assert named.splitlines()[0] == "candidate 'dropout' [16], 2 epochs, 1 runs each, alternating, fresh process per run"
    result = run_bench("regularize_vs_keras.py", "--repo", str(project), "--candidate", "nope")
    assert result.returncode == 1
    assert result.stderr.strip() == "--candidate nope: params.yaml's regularize.candidates are smaller, dropout"


@pytest.mark.pipeline
def test_review_tools(project):
    output = bench("review_tools.py", "--repo", str(project), "--target", "export")
    assert_lines(output, *(rf"{re.escape(name)}: median {NUMBER} s of \[{NUMBER}\]" for name in (
        "no-op dvc status export", "no-op dvc repro export", "python -m stages.audit",
        "python -m stages.report --base HEAD")))


@pytest.mark.pipeline
def test_review_tools_refuse_a_project_where_dvc_repro_would_run(project):
    result = run_bench("review_tools.py", "--repo", str(project))  # optimize and the studies never ran there
    assert result.returncode == 1
    assert result.stderr.startswith(f"{project} differs from its dvc.lock, so dvc repro would not be a no-op")


@pytest.mark.pipeline
def test_pipeline_timing_on_a_few_stages():
    output = bench("pipeline_timing.py", "--first", "define_task", "--then", "split")
    assert_lines(output, rf"cold dvc repro define_task: median {NUMBER} s of \[{NUMBER}\] \(goal <= 45 s\)",
                 rf"cold dvc repro split: median {NUMBER} s of \[{NUMBER}\] \(goal <= 120 s\)",
                 rf"no-op dvc repro split: median {NUMBER} s of \[{NUMBER}, {NUMBER}, {NUMBER}\] \(goal <= 1 s\)",
                 r"per stage, medians of 1 \(s\): wall = start-up \(imports\) \+ work",
                 *(rf"  {stage}: {NUMBER} = {NUMBER} \+ -?{NUMBER}" for stage in ("collect", "split")),
                 rf"  all 2 stages: {NUMBER} = {NUMBER} \+ -?{NUMBER}",
                 rf"small table \(344 rows, 3 classes\), cold dvc repro split: median {NUMBER} s of \[{NUMBER}\] "
                 r"\(goal <= 120 s\)")


def test_side_by_side_matches_lines_by_their_words_and_takes_medians():
    side = load_bench_module("side_by_side")
    runs = [side.figures("all 2 stages: 10.0 = 4.0 + 6.0\nold line 1"), side.figures("all 2 stages: 12.0 = 4.0 + 8.0"),
            side.figures("all 2 stages: 11.0 = 4.0 + 7.0\nold line 1")]
    assert side.medians(runs) == {"all # stages: # = # + #": [2, 11.0, 4.0, 7.0]}  # "old line" not in every run
    after = {"all # stages: # = # + #": [2, 5.5, 4.0, 1.5], "new #": [3]}
    assert side.side_by_side(side.medians(runs), after) == [
        "all 2 stages: 11 -> 5.5 (x0.50) = 4 + 7 -> 1.5 (x0.21)", "new 3  (only after)"]


@pytest.mark.pipeline
def test_side_by_side_runs_a_benchmark_on_two_commits_and_cleans_up():
    worktrees = subprocess.run(["git", "-C", str(ROOT), "worktree", "list"], capture_output=True, text=True).stdout
    output = bench("side_by_side.py", "HEAD", "HEAD", "--rounds", "1", "--", "pipeline_timing.py",
                   "--first", "define_task", "--then", "define_task", "--no-stages", "--no-table")
    assert_lines(output, r"pipeline_timing.py --first define_task .*: before HEAD, after HEAD, medians of 1 .*",
                 rf"cold dvc repro define_task: median {NUMBER}( -> {NUMBER} \(x{NUMBER}\))? s of .*",
                 rf"no-op dvc repro define_task: median .*")
    assert subprocess.run(["git", "-C", str(ROOT), "worktree", "list"], capture_output=True, text=True).stdout == worktrees


def test_side_by_side_refuses_an_unknown_commit():
    result = run_bench("side_by_side.py", "no-such-commit", "HEAD", "--", "pipeline_timing.py")
    assert result.returncode == 1 and result.stderr.startswith("cannot check out 'no-such-commit': ")


@pytest.mark.pipeline
def test_real_data_stage_by_stage():
    output = bench("real_data.py", "digits", "--target", "split")
    assert_lines(output, r"digits, in \S+: 2 stages, one at a time",
                 *(rf"  {stage} +{NUMBER} s" for stage in ("collect", "split")), r"  all 2 stages \d+ s", r"300 examples; no test scores \(evaluate was not among the stages run\)")


@pytest.mark.pipeline
def test_scale_on_two_sizes_through_vectorize():
    output = bench("scale.py", "--rows", "2000", "3000", "--through", "vectorize", "--epochs", "2")
    stages = ("collect", "split", "validate", "vectorize")
    per_size = [
        (rf"{rows} rows \(dep_delay\): data/flights\.parquet {NUMBER} MB, generated in {NUMBER} s; 4 stages in \S+ "
         r"\(tiny params\) \(epochs capped at 2: a check of time and memory, not a model\)",
         r"  stage +seconds +peak RSS MB",
         *(rf"  {stage} +{NUMBER} +\d+" for stage in stages), rf"  collect to vectorize {NUMBER} s",
         rf"  all 4 stages {NUMBER} s; highest peak RSS \d+ MB \(\w+; goal <= 2048 MB\)", rf"  data/raw {NUMBER} MB",
         rf"  data/features {NUMBER} MB \({NUMBER} x data/raw\)",
         rf"  DVC cache {NUMBER} MB, of which {NUMBER} MB not hardlinked to the workspace \(cache.type hardlink,copy\)",
         rf"  data/features and what the cache adds: {NUMBER} x data/raw \(goal <= 4\)")
        for rows in ("2,000", "3,000")]
    exponent = r" +(-?[\d.]+|n/a)"
    assert_lines(output, *per_size[0], *per_size[1],
                 r"growth from 2,000 to 3,000 rows, log\(x2/x1\) / log\(n2/n1\) \(1: linear in the rows\):",
                 *(rf"  {stage} +time{exponent}  peak RSS{exponent}" for stage in stages),
                 *(rf"  {re.escape(name)} +size{exponent}" for name in ("data/raw", "data/features", ".dvc/cache", "cache adds")))
    assert "-0.00" not in output


def test_scale_refuses_too_few_rows_an_unknown_stage_and_no_epochs():
    result = run_bench("scale.py", "--rows", "2000", "10")
    assert result.returncode == 2 and result.stderr.strip().endswith("error: --rows: at least 100 rows each")
    result = run_bench("scale.py", "--rows", "2000", "--through", "vectorise")
    assert result.returncode == 2
    assert "error: --through: unknown stage 'vectorise': choose from check_params, collect, " in result.stderr
    result = run_bench("scale.py", "--rows", "2000", "--epochs", "0")
    assert result.returncode == 2 and "--epochs: at least 1" in result.stderr


def test_scale_refuses_a_keep_folder_that_is_not_empty(tmp_path):
    (tmp_path / "something").write_text("")
    result = run_bench("scale.py", "--rows", "2000", "--keep", str(tmp_path))
    assert result.returncode == 1 and result.stderr.strip() == f"{tmp_path} is not empty: give a new or empty folder"


def test_scale_caps_every_training_at_epochs(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    scale = load_bench_module("scale")
    assert scale.scale_params(binary=False) == scale.SCALE_PARAMS
    capped = scale.scale_params(binary=True, epochs=1)
    assert capped["task"]["problem"] == "classification"
    assert (capped["overfit"]["epochs"], capped["regularize"]["epochs"], capped["studies"]["table"]["epochs"],
            capped["optimize"]["fine_tune_epochs"]) == (1, 1, 1, 1)
    assert scale.scale_params(binary=False, epochs=1000)["overfit"]["epochs"] == scale.SCALE_PARAMS["overfit"]["epochs"]


def test_scale_table_is_seeded_chunked_and_time_ordered(tmp_path, monkeypatch):
    """In-process: the same file on every run, written in chunks of CHUNK_ROWS rows, the time increasing,
    gaps in every numeric column."""
    import pyarrow.parquet as pq

    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    scale = load_bench_module("scale")
    monkeypatch.setattr(scale, "CHUNK_ROWS", 300)
    for name in ("first.parquet", "second.parquet"):
        scale.write_flights(tmp_path / name, 1000, binary=False)
    whole, again = (pq.read_table(tmp_path / name).to_pandas() for name in ("first.parquet", "second.parquet"))
    assert len(whole) == 1000 and pq.ParquetFile(tmp_path / "first.parquet").num_row_groups == 4
    assert whole.equals(again)
    assert whole["time_hour"].is_monotonic_increasing
    assert set(scale.GAPS) <= set(whole.columns) and whole[list(scale.GAPS)].isna().any().all()
    scale.write_flights(tmp_path / "binary.parquet", 1000, binary=True)
    binary = pq.read_table(tmp_path / "binary.parquet").to_pandas()
    assert set(binary[scale.BINARY_TARGET]) == {"yes", "no"} and scale.TARGET not in binary


def test_real_data_refuses_a_data_dir_that_is_not_a_folder(tmp_path):
    result = run_bench("real_data.py", "mnist", "--data-dir", str(tmp_path / "nowhere"))
    assert result.returncode == 1 and result.stderr.strip() == f"--data-dir {tmp_path / 'nowhere'} is not a folder"


@pytest.mark.pipeline
def test_examples_on_the_regression_table():
    output = bench("examples.py", "diabetes")
    assert_lines(output, rf"diabetes: regression, holdout \(1 folds\), test mae {NUMBER}, cross-validated {NUMBER} "
                         rf"± {NUMBER}, baseline {NUMBER}, overfit model {NUMBER}, skill -?{NUMBER}; "
                         rf"validation max JS {NUMBER}; cold dvc repro evaluate \d+ s")


def test_examples_refuse_an_unknown_example():
    result = run_bench("examples.py", "diabets")
    assert result.returncode == 2 and "unknown example(s) ['diabets']: choose from breast_cancer" in result.stderr


@pytest.mark.pipeline
@pytest.mark.parametrize("dataset", ["mnist", "imdb"])
def test_full_size(dataset):
    output = bench("full_size.py", dataset)
    assert_lines(output, rf"{dataset}: synthetic {dataset}.npz of {NUMBER} MB",
                 *(rf"  {stage:<12} peak RSS +\d+ MB" for stage in ("collect", "define_task", "split", "validate",
                                                                     "vectorize")),
                 rf"  pipeline fit +median +{NUMBER} s/epoch of 1 runs, peak RSS +\d+ MB",
                 rf"  bare book script +median +{NUMBER} s/epoch of 1 runs, peak RSS +\d+ MB",
                 rf"  ratio pipeline / bare per epoch: {NUMBER} \(goal <= 1.10\)")


@pytest.mark.pipeline
def test_latency(project):
    output = bench("latency.py", "--repo", str(project))  # optimize never ran there: float32 alone
    assert_lines(output, r"int8: not in models/optimized/ .*", r"pruned: not in models/optimized/ .*",
                 rf"float32: median {NUMBER} ms per example of \[{NUMBER}\], 1.00 x float32")


@pytest.mark.pipeline
def test_reproduce(project):
    output = bench("reproduce.py", "--repo", str(project))
    score = rf"test_\w+: committed {NUMBER}, rerun {NUMBER} \[{NUMBER}, {NUMBER}\]: (inside|OUTSIDE)( \(identical\))?"
    assert_lines(output, r"committed: \w+ dvc repro export, evaluated on .+ \(\w+, \d+ cores, .*\)",
                 r"rerun: this machine, .+; the same machine", rf"dvc repro evaluate in a fresh clone: \d+ s",
                 score, rf"(\d+) of \1 committed test scores fall inside the rerun's 95% intervals; \1 are identical")


def test_book_on_small_idx_files(tmp_path, monkeypatch, capsys):
    """In-process, on small IDX files with their own checksums (the real ones are 60,000 images)."""
    from tests.test_idx import small_arrays, small_idx_set

    small_idx_set(tmp_path / "idx", monkeypatch, arrays=small_arrays(n_train=150, n_test=10))
    spec = importlib.util.spec_from_file_location("bench_book", ROOT / "bench" / "book.py")
    book = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(book)
    output = tmp_path / "mnist.md"
    monkeypatch.setattr(sys, "argv", ["book.py", "--data-dir", str(tmp_path / "idx"), "--seeds", "2", "--epochs", "2",
                                      "--studies", "noise_channels", "random_labels", "--output", str(output)])
    book.main()
    assert_lines(capsys.readouterr().out, *(rf"{study}, seed {seed}: (held|did not hold) \(\d+ s\)"
                                            for study in ("noise_channels", "random_labels") for seed in (42, 43)),
                 rf"2 studies x 2 seeds in \d+ s -> {re.escape(str(output))}")
    report = output.read_text()
    assert "128 training and 32 validation images" in report  # 150 + 10 pooled, all under 60,000 and "seeds 42, 43" in report
    assert re.search(rf"\| noise_channels \| .* \| noise_channels val_accuracy: book 0.9712 at epoch 10, measured "
                     rf"{NUMBER} ± {NUMBER} \(range {NUMBER}-{NUMBER}\) at epoch 2<br>zero_channels val_accuracy: "
                     rf"book 0.9803 at epoch 10, .* \| (held|\*\*did not hold\*\*|\*\*mixed\*\*) \([012] of 2 seeds\) \|",
                     report)
    assert "| random_labels | " in report and "no number for MNIST in the notes" in report
    assert "The real IMDB is not available on these machines" in report


def test_cases_prints_what_the_stages_print_for_each_case():
    output = bench("cases.py", "single_class", "texts")
    assert_lines(output,
                 r"== single_class: dvc repro collect -> exit \d+",
                 r"error: data/single_class.csv: target column 'y' has a single class 1: .*",
                 r"== texts: dvc repro validate -> exit 0",
                 r"collect: \d+ examples of text; dropped: 2 with an empty text.*",
                 r"validate: .*")
