"""Features stored as blocks of rows: read whole up to artifacts.STREAM_ABOVE bytes, else a block at a time by
training (models.batches), prediction (models.predict), the baselines and the studies' sample."""
import zipfile

import numpy as np
import pytest

from stages.lib import artifacts
from stages.lib.artifacts import StoredRows, read_features, write_features


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 7 rows of 3 float32 features (84 bytes), and every file streamed."""
    monkeypatch.setattr(artifacts, "BLOCK_BYTES", 7 * 3 * 4)
    monkeypatch.setattr(artifacts, "STREAM_ABOVE", 0)


def stored(tmp_path, rows: int = 50, blocks_of: int = 20):
    x = np.arange(rows * 3, dtype=np.float32).reshape(rows, 3)
    y = np.arange(rows) % 2
    path = tmp_path / "features.npz"
    # given in blocks of 20 rows, as vectorize transforms them
    write_features(path, (x[i:i + blocks_of] for i in range(0, rows, blocks_of)), y)
    return path, x, y


def test_dense_features_are_stored_in_blocks_and_read_whole_or_by_rows(tmp_path, small_blocks):
    path, x, y = stored(tmp_path)
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == ["y.npy"] + [f"x{n}.npy" for n in range(8)]
    rows = StoredRows(path)
    assert list(rows.block_rows) == [7] * 7 + [1]  # given in blocks of 20 rows, stored in blocks of 7
    assert rows.shape == (50, 3) and len(rows) == 50 and rows.nbytes == x.nbytes
    np.testing.assert_array_equal(rows.load(), x)
    picked = np.array([49, 0, 13, 14, 8, 21])
    np.testing.assert_array_equal(rows[picked], x[picked])
    np.testing.assert_array_equal(np.concatenate(list(rows.blocks())), x)


def test_read_features_streams_only_past_the_threshold(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from stages.lib import paths

    x = np.ones((10, 4), dtype=np.float32)
    write_features(paths.features_file("test"), x, np.zeros(10))
    whole, _ = read_features("test")
    assert isinstance(whole, np.ndarray) and whole.shape == (10, 4)
    monkeypatch.setattr(artifacts, "STREAM_ABOVE", x.nbytes - 1)
    streamed, y = read_features("test")
    assert isinstance(streamed, StoredRows) and streamed.shape == (10, 4) and len(y) == 10


def test_fewer_feature_rows_than_targets_leave_no_file(tmp_path):
    with pytest.raises(ValueError, match="9 rows of features written for 10 targets"):
        write_features(tmp_path / "f.npz", iter([np.zeros((9, 2), np.float32)]), np.zeros(10))
    assert not (tmp_path / "f.npz").exists()


def test_an_empty_part_is_one_empty_block(tmp_path):
    write_features(tmp_path / "f.npz", np.zeros((0, 3), np.float32), np.zeros(0))
    assert StoredRows(tmp_path / "f.npz").shape == (0, 3)


def batch_list(data) -> list:
    return [(bx.numpy(), by.numpy()) for bx, by in data]


def test_streamed_batches_take_every_row_once_per_pass_in_full_batches(tmp_path, small_blocks, monkeypatch):
    from stages.lib import models

    path, x, y = stored(tmp_path, rows=50)
    monkeypatch.setattr(models, "SHUFFLE_WINDOW_BYTES", 3 * 7 * 3 * 4)  # windows of 3 blocks
    data = models.batches((StoredRows(path), y), 8, shuffle_seed=1)
    assert int(data.cardinality()) == 7
    first, second = batch_list(data), batch_list(data)
    for batches in (first, second):
        assert [len(b) for b, _ in batches] == [8] * 6 + [2]
        rows = np.concatenate([b for b, _ in batches])
        assert sorted(rows[:, 0]) == sorted(x[:, 0])  # every row once
        np.testing.assert_array_equal(np.concatenate([t for _, t in batches]), (rows[:, 0] // 3).astype(int) % 2)
    assert not np.array_equal(first[0][0], second[0][0])  # reshuffled on every pass
    again = batch_list(models.batches((StoredRows(path), y), 8, shuffle_seed=1))
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(first, again))  # the same seed, the same order
    # a batch mixes rows of several blocks of its window
    blocks = np.searchsorted(StoredRows(path).starts, first[0][0][:, 0] // 3, side="right")
    assert len(set(blocks)) > 1
    ordered = np.concatenate([b for b, _ in batch_list(models.batches((StoredRows(path), y), 8))])
    np.testing.assert_array_equal(ordered, x)  # unshuffled: stored order (validation)


def test_a_model_trains_and_predicts_from_stored_rows(tmp_path, small_blocks):
    from stages.lib.models import fit_mlp, predict
    from stages.lib.params import TrainingParams
    from stages.lib.task import define_task

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    write_features(tmp_path / "train.npz", x, y)
    rows = StoredRows(tmp_path / "train.npz")
    assert len(rows.block_rows) == 43
    task = define_task("table", "classification", {0: 150, 1: 150}, 3.0)
    training = TrainingParams(epochs=3, batch_size=32, optimizer="rmsprop", learning_rate=0.01)
    model, history = fit_mlp(task, (rows, y), (rows, y), training, 0, [8], verbose=0)
    assert len(history) == 3 and history["val_accuracy"].iloc[-1] > 0.8
    np.testing.assert_allclose(predict(model, rows), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_baselines_and_the_studies_sample_take_stored_rows(tmp_path, small_blocks):
    from stages.lib.baselines import baseline_output, fit_baseline
    from stages.lib.studies import sample_for_studies
    from stages.lib.task import define_task

    path, x, y = stored(tmp_path, rows=50)
    rows = StoredRows(path)
    task = define_task("table", "classification", {0: 25, 1: 25}, 3.0)
    output = baseline_output(task, fit_baseline(task, "most_frequent", rows, y, 0), rows)
    assert output.shape == (50, 2)
    (x_train, y_train), (x_val, _), sample = sample_for_studies((rows, y), (rows, y), 10, 0)
    assert isinstance(x_train, np.ndarray) and len(x_train) == 10 == sample["examples"]
    np.testing.assert_array_equal(x_train[:, 0] // 3 % 2, y_train)
    (whole, _), _, none = sample_for_studies((rows, y), (rows, y), None, 0)
    assert none is None and isinstance(whole, np.ndarray)
    np.testing.assert_array_equal(whole, x)


def test_rows_are_taken_by_slice_or_row_numbers_and_nothing_else(tmp_path, small_blocks):
    path, x, _ = stored(tmp_path, rows=50)
    rows = StoredRows(path)
    np.testing.assert_array_equal(rows[3:4], x[3:4])
    np.testing.assert_array_equal(rows[np.array([7, 7, 2])], x[[7, 7, 2]])
    with pytest.raises(IndexError, match="run from 0 to 49, not 0 to 50"):
        rows[np.array([0, 50])]
    with pytest.raises(IndexError, match="not -1 to -1"):
        rows[np.array([-1])]
    with pytest.raises(TypeError, match="not bool"):
        rows[np.ones(50, dtype=bool)]


def test_blocks_of_another_dtype_or_layout_are_stored_as_the_first(tmp_path):
    x = np.arange(40, dtype=np.float32).reshape(10, 4)
    write_features(tmp_path / "c.npz", x, np.zeros(10))
    write_features(tmp_path / "mixed.npz", iter([x[:5], np.asfortranarray(x[5:].astype(np.float64))]), np.zeros(10))
    assert (tmp_path / "c.npz").read_bytes() == (tmp_path / "mixed.npz").read_bytes()


def test_a_pass_holds_about_one_window_of_rows(tmp_path, monkeypatch):
    import tracemalloc

    from stages.lib import models

    x = np.random.default_rng(0).normal(size=(40_000, 50)).astype(np.float32)  # 8 MB
    monkeypatch.setattr(artifacts, "BLOCK_BYTES", 200_000)
    monkeypatch.setattr(artifacts, "READ_BYTES", 16_384)  # blocks of 200 kB read in pieces, as 32 MB in 1 MB
    monkeypatch.setattr(models, "SHUFFLE_WINDOW_BYTES", 2_000_000)  # windows of 10 blocks
    write_features(tmp_path / "f.npz", x, np.arange(40_000))
    rows = StoredRows(tmp_path / "f.npz")
    tracemalloc.start()
    try:
        seen = sum(len(b) for b, _ in models.window_batches(rows, np.arange(40_000), 64, np.random.default_rng(0)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == 40_000
    # A window, the block being read and the reader's buffers (1.4 windows here); a copy of the window, or the
    # previous window kept alive, would make two or more.
    assert peak < 1.75 * models.SHUFFLE_WINDOW_BYTES, peak


def test_a_features_file_of_the_old_single_array_format_asks_for_a_rebuild(tmp_path, monkeypatch):
    from stages.lib import paths
    from stages.lib.errors import PipelineError
    from stages.lib.io import write_npz

    monkeypatch.chdir(tmp_path)
    write_npz(paths.features_file("test"), x=np.zeros((3, 4), np.float32), y=np.arange(3))
    with pytest.raises(PipelineError, match=r"test\.npz holds no dense features: rebuild it with `dvc repro -f vectorize`"):
        read_features("test")


def test_a_features_block_vectorize_did_not_write_stops_with_one_line(tmp_path):
    from stages.lib.errors import PipelineError
    from stages.lib.io import write_npz

    write_npz(tmp_path / "fortran.npz", y=np.arange(4), x0=np.asfortranarray(np.zeros((4, 3), np.float32)))
    with pytest.raises(PipelineError, match=r"x0\.npy is not a features block vectorize writes: rebuild it"):
        StoredRows(tmp_path / "fortran.npz")
    with zipfile.ZipFile(tmp_path / "short.npz", "w") as archive, archive.open("x0.npy", "w") as member:
        np.lib.format.write_array_header_1_0(member, {"descr": "<f4", "fortran_order": False, "shape": (10, 3)})
        member.write(np.zeros((5, 3), np.float32).tobytes())  # half the rows its header promises
    with pytest.raises(PipelineError, match=r"short\.npz ends inside x0: rebuild it with `dvc repro -f vectorize`"):
        StoredRows(tmp_path / "short.npz").load()
