import json
import os
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from stages.lib.errors import PipelineError
from stages.lib.io import (
    atomic_dir,
    atomic_path,
    read_json,
    read_npz,
    remove_stale_temporaries,
    sha256_of_arrays,
    save_keras_model,
    write_json,
    write_npz,
    write_npz_members,
)
from tests.conftest import ROOT


def test_atomic_path_leaves_nothing_when_the_writer_fails(tmp_path):
    target = tmp_path / "out" / "metrics.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("{half")
            raise RuntimeError("killed")
    assert list((tmp_path / "out").iterdir()) == []


def test_atomic_dir_replaces_only_on_success(tmp_path):
    target = tmp_path / "docs"
    with atomic_dir(target) as tmp:
        (tmp / "index.html").write_text("one")
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "index.html").write_text("two, half")
            raise RuntimeError("killed")
    assert (target / "index.html").read_text() == "one"
    assert [p.name for p in tmp_path.iterdir()] == ["docs"]


def test_npz_is_byte_identical_and_round_trips(tmp_path):
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    write_npz(tmp_path / "a.npz", x=x, y=np.array([0, 1, 2]))
    write_npz(tmp_path / "b.npz", x=x, y=np.array([0, 1, 2]))
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    arrays = read_npz(tmp_path / "a.npz", ["x", "y"])
    np.testing.assert_array_equal(arrays["x"], x)


def test_compressed_npz_is_byte_identical_smaller_and_readable_by_numpy(tmp_path):
    indices = np.tile(np.arange(40, dtype=np.int32), 500)  # a sparse matrix's column indices repeat
    for name in ("a", "b"):
        write_npz(tmp_path / f"{name}.npz", compress=True, indices=indices, y=np.arange(3))
    write_npz(tmp_path / "stored.npz", indices=indices, y=np.arange(3))
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    assert (tmp_path / "a.npz").stat().st_size < (tmp_path / "stored.npz").stat().st_size / 10
    np.testing.assert_array_equal(np.load(tmp_path / "a.npz")["indices"], indices)
    np.testing.assert_array_equal(read_npz(tmp_path / "a.npz", ["indices"])["indices"], indices)


def test_npz_members_are_written_as_they_come_and_a_failure_leaves_no_file(tmp_path):
    x = np.random.default_rng(0).normal(size=(1000, 7)).astype(np.float32)
    write_npz_members(tmp_path / "lazy.npz", ((name, x) for name in ("a", "b")), compress=True)
    write_npz(tmp_path / "whole.npz", compress=True, a=x, b=x)
    assert (tmp_path / "lazy.npz").read_bytes() == (tmp_path / "whole.npz").read_bytes()

    def failing():
        yield "a", x
        raise ValueError("the rows ran out")

    with pytest.raises(ValueError, match="the rows ran out"):
        write_npz_members(tmp_path / "short.npz", failing())
    assert not (tmp_path / "short.npz").exists()


def test_npz_refuses_pickled_objects_and_missing_arrays(tmp_path):
    np.savez(tmp_path / "objects.npz", x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(PipelineError, match="not a readable npz"):
        read_npz(tmp_path / "objects.npz", ["x"])
    with pytest.raises(PipelineError, match=r"lacks the arrays \['y'\]"):
        read_npz(tmp_path / "objects.npz", ["x", "y"])
    with pytest.raises(PipelineError, match="is missing"):
        read_npz(tmp_path / "absent.npz", ["x"])


def test_json_rounds_floats_and_converts_numpy(tmp_path):
    write_json(tmp_path / "m.json", {"acc": np.float32(0.123456789), "n": np.int64(3), "ok": np.bool_(True)})
    assert read_json(tmp_path / "m.json") == {"acc": 0.123457, "n": 3, "ok": True}
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(PipelineError, match="not valid JSON"):
        read_json(tmp_path / "bad.json")


def test_hashes_identify_content():
    from stages.lib.kinds import kind_named

    x = np.array([[1.0, 2.0], [1.0, 2.0], [2.0, 1.0]])
    hashes = kind_named("images").row_hashes(x)
    assert hashes[0] == hashes[1] != hashes[2]
    assert sha256_of_arrays(x) != sha256_of_arrays(x.astype(np.float32))


def test_raw_data_is_read_by_the_kind_its_manifest_names(tmp_path):
    from stages.lib.kinds import read_raw

    write_npz(tmp_path / "examples.npz", images=np.zeros((2, 3)))
    with pytest.raises(PipelineError, match="manifest.json is missing"):
        read_raw(tmp_path)
    write_json(tmp_path / "manifest.json", {"kind": "images"})
    with pytest.raises(PipelineError, match=r"lacks the arrays \['x', 'y'\]: rebuild it with `dvc repro collect`"):
        read_raw(tmp_path)
    write_json(tmp_path / "manifest.json", {"kind": "sequences"})
    with pytest.raises(PipelineError, match=r"lacks the arrays \['tokens', 'offsets', 'y'\]"):
        read_raw(tmp_path)


class FakeModel:
    """Saves like keras.Model.save (refusing a name without .keras) without loading TensorFlow: a zip
    of metadata.json (with the save date), config.json (two layers sharing an object, known by its id())
    and the weights, here compressed to see that the compression is kept."""

    def __init__(self, date="2026-01-02@03:04:05", shared_id=None):
        self.date, self.shared_id = date, id(self) if shared_id is None else shared_id

    def save(self, path):
        assert str(path).endswith(".keras")
        shared = {"class_name": "DTypePolicy", "config": {"name": "float32"}, "shared_object_id": self.shared_id}
        other = {**shared, "shared_object_id": self.shared_id + 8}
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1", "date_saved": self.date}))
            archive.writestr("config.json", json.dumps({"layers": [{"dtype": shared}, {"dtype": other},
                                                                    {"dtype": shared}]}))
            archive.writestr("model.weights.h5", b"weights" * 100, compress_type=zipfile.ZIP_DEFLATED)


# Each writer, killed (SIGKILL) half-way through a write to `target`, then the same write completed.
KILLED_WRITES = {
    "atomic_path": ("with atomic_path(target) as tmp:\n    tmp.write_text('{half')\n    die()",
                    lambda target: write_json(target, {"done": True})),
    "atomic_dir": ("with atomic_dir(target) as tmp:\n    (tmp / 'a.json').write_text('{half')\n    die()",
                   lambda target: atomic_dir_with_one_file(target)),
    "save_keras_model": ("class Model:\n    def save(self, path):\n        Path(path).write_text('half')\n        die()\n"
                         "save_keras_model(Model(), target)", lambda target: save_keras_model(FakeModel(), target)),
}


def atomic_dir_with_one_file(target):
    with atomic_dir(target) as tmp:
        (tmp / "a.json").write_text("{}")


@pytest.mark.parametrize("writer", sorted(KILLED_WRITES))
def test_the_next_write_removes_what_a_killed_write_left(tmp_path, writer):
    killed, complete = KILLED_WRITES[writer]
    target = tmp_path / "models" / ("model.keras" if writer == "save_keras_model" else "out")
    script = textwrap.dedent("""
        import os, signal, sys
        from pathlib import Path
        from stages.lib.io import atomic_dir, atomic_path, save_keras_model
        target = Path(sys.argv[1])
        def die():
            os.kill(os.getpid(), signal.SIGKILL)
    """) + killed
    leftovers = []
    for _ in range(2):  # the second killed write already removes the first one's leftover
        result = subprocess.run([sys.executable, "-c", script, str(target)], capture_output=True,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert result.returncode == -9, result.stderr
        leftovers.append([p.name for p in target.parent.iterdir()])
    assert all(len(names) == 1 and names[0].startswith(f".{target.name}.tmp-") for names in leftovers)
    assert leftovers[0] != leftovers[1]
    (target.parent / "unrelated.tmp").write_text("not ours")
    complete(target)
    assert sorted(p.name for p in target.parent.iterdir()) == sorted([target.name, "unrelated.tmp"])


def test_temporaries_of_a_running_writer_are_left_alone(tmp_path):
    target = tmp_path / "metrics.json"
    running = tmp_path / f".metrics.json.tmp-{os.getpid()}-abc.tmp"
    running.write_text("being written")
    other_target = tmp_path / ".metrics.json.tmp-old.json.tmp-1-abc.tmp"  # a write to another name
    other_target.write_text("x")
    assert remove_stale_temporaries(target) == []
    write_json(target, {"a": 1})
    assert running.exists() and other_target.exists()


def test_atomic_dir_replaces_a_folder_without_leaving_the_old_one(tmp_path):
    target = tmp_path / "features"
    for content in ("one", "two"):
        with atomic_dir(target) as tmp:
            (tmp / "x.txt").write_text(content)
    assert (target / "x.txt").read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["features"]


def test_a_keras_archive_keeps_no_save_date_nor_memory_address(tmp_path):
    save_keras_model(FakeModel("2026-01-02@03:04:05", shared_id=140_000_016), tmp_path / "a.keras")
    save_keras_model(FakeModel("2026-05-06@07:08:09", shared_id=139_000_032), tmp_path / "b.keras")
    assert (tmp_path / "a.keras").read_bytes() == (tmp_path / "b.keras").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.keras") as archive:
        entries = archive.infolist()
        config = json.loads(archive.read("config.json"))
        metadata = json.loads(archive.read("metadata.json"))
        weights = archive.read("model.weights.h5")
    assert [e.filename for e in entries] == ["metadata.json", "config.json", "model.weights.h5"]
    assert [e.compress_type for e in entries] == [zipfile.ZIP_STORED, zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]
    assert {e.date_time for e in entries} == {(1980, 1, 1, 0, 0, 0)}
    assert metadata == {"keras_version": "3.15.1", "date_saved": "1980-01-01@00:00:00"}
    # Which configs share an object survives: the first and third share one, the second another.
    assert [layer["dtype"]["shared_object_id"] for layer in config["layers"]] == [1, 2, 1]
    assert weights == b"weights" * 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.keras", "b.keras"]


def test_a_trained_model_saved_twice_a_second_apart_is_byte_identical_and_loads_back(tmp_path):
    import keras

    from stages.lib.models import build_model, seed_everything
    from tests.conftest import THREE_CLASSES

    seed_everything(0)
    x, y = np.random.default_rng(0).normal(size=(40, 5)).astype(np.float32), np.arange(40) % 3
    model = build_model(5, THREE_CLASSES, [8], "rmsprop", 0.01, dropout=0.2)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    save_keras_model(model, tmp_path / "first.keras")
    time.sleep(1.1)  # Keras dates the save to the second and the weights' zip entry to two seconds
    save_keras_model(model, tmp_path / "second.keras")
    assert (tmp_path / "first.keras").read_bytes() == (tmp_path / "second.keras").read_bytes()
    loaded = keras.models.load_model(tmp_path / "second.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_parquet_file_is_read_a_column_at_a_time_as_pandas_reads_it(tmp_path):
    import pandas as pd

    from stages.lib.io import read_parquet

    frame = pd.DataFrame({"n": [1.5, None, 3.0], "city": ["a", None, "b"], "when": pd.to_datetime(["2024-01-01"] * 3)},
                         index=pd.Index([10, 20, 30], name="row"))  # an index pandas stores as a column
    frame.to_parquet(tmp_path / "t.parquet")
    read = read_parquet(tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(read, pd.read_parquet(tmp_path / "t.parquet").reset_index(drop=True))
    as_categories = read_parquet(tmp_path / "t.parquet", ["city", "n"], strings_as_categories=True)
    assert list(as_categories.columns) == ["city", "n"] and as_categories["city"].dtype == "category"
    assert as_categories["city"].astype("string").tolist()[:2] == ["a", pd.NA]


def test_a_parquet_file_of_any_column_names_is_read_as_pandas_reads_it_a_few_columns_at_a_time(tmp_path, monkeypatch):
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from stages.lib import io
    from stages.lib.errors import PipelineError

    frame = pd.DataFrame(np.arange(40.0).reshape(10, 4))  # integer column labels
    frame[4] = ["a", "b"] * 5
    frame.to_parquet(tmp_path / "numbers.parquet")
    monkeypatch.setattr(io, "PARQUET_BATCH_BYTES", 8 * 10 * 2)  # two columns at a time
    pd.testing.assert_frame_equal(io.read_parquet(tmp_path / "numbers.parquet"), pd.read_parquet(tmp_path / "numbers.parquet"))
    pq.write_table(pa.table([[1], [2], [3]], names=["a", "a", "y"]), tmp_path / "repeated.parquet")
    with pytest.raises(PipelineError, match=r"repeated\.parquet has repeated column name\(s\) \['a'\]"):
        io.read_parquet(tmp_path / "repeated.parquet")


def test_rows_of_a_parquet_file_are_read_a_row_group_at_a_time_in_the_order_asked(tmp_path):
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from stages.lib.io import read_parquet, read_parquet_rows

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"n": rng.normal(size=100), "k": rng.integers(0, 9, 100),
                          "city": rng.choice(["a", "b", "c", None], 100)})
    frame.loc[[3, 50], "n"] = np.nan
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "t.parquet", row_group_size=30)
    assert pq.ParquetFile(tmp_path / "t.parquet").num_row_groups == 4
    rows = np.array([99, 3, 50, 3, 0, 61, 29, 30])  # unsorted, repeated, at row group edges
    for categories in (False, True):
        whole = read_parquet(tmp_path / "t.parquet", strings_as_categories=categories)
        taken = read_parquet_rows(tmp_path / "t.parquet", rows, strings_as_categories=categories)
        pd.testing.assert_frame_equal(taken, whole.iloc[rows].reset_index(drop=True), check_categorical=False)
        assert (taken["city"].dtype == "category") == categories
    assert len(read_parquet_rows(tmp_path / "t.parquet", [])) == 0
    with pytest.raises(PipelineError, match="has 100 rows, not row 100"):
        read_parquet_rows(tmp_path / "t.parquet", [5, 100])
