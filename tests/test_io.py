import numpy as np
import pytest

from stages.lib.errors import PipelineError
from stages.lib.io import (
    atomic_dir,
    atomic_path,
    read_json,
    read_npz,
    row_hashes,
    sha256_of_arrays,
    write_json,
    write_npz,
)


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
    x = np.array([[1.0, 2.0], [1.0, 2.0], [2.0, 1.0]])
    hashes = row_hashes(x)
    assert hashes[0] == hashes[1] != hashes[2]
    assert sha256_of_arrays(x) != sha256_of_arrays(x.astype(np.float32))


def test_raw_file_of_unknown_layout_is_refused(tmp_path):
    from stages.lib.artifacts import read_raw

    write_npz(tmp_path / "examples.npz", images=np.zeros((2, 3)))
    with pytest.raises(PipelineError, match="holds neither x, y nor tokens, offsets, y"):
        read_raw(tmp_path)
