from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hep_aa.exceptions import DataFormatError
from hep_aa.io.artifacts import (
    atomic_write,
    load_arrays,
    read_json,
    read_table,
    save_arrays,
    write_json,
    write_table,
)


def test_atomic_write_keeps_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    write_json(target, {"a": 1})

    def interrupted_writer() -> None:
        with atomic_write(target) as fh:
            fh.write('{"a": 2')
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        interrupted_writer()
    assert read_json(target) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temp file left


def test_arrays_round_trip_and_corrupt(tmp_path: Path) -> None:
    arrays = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(3, dtype=np.float64)}
    save_arrays(tmp_path / "a.safetensors", arrays)
    back = load_arrays(tmp_path / "a.safetensors")
    for key, value in arrays.items():
        np.testing.assert_array_equal(back[key], value)
        assert back[key].dtype == value.dtype
    (tmp_path / "bad.safetensors").write_bytes(b"\xff" * 10)
    with pytest.raises(DataFormatError, match=r"bad\.safetensors: not a valid safetensors"):
        load_arrays(tmp_path / "bad.safetensors")


def test_table_round_trip(tmp_path: Path) -> None:
    x = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    write_table(
        tmp_path / "t.parquet",
        x,
        ["mjj", "tau21"],
        labels=[0, 1, 1],
        types=["background", "signal", "signal"],
        spectators={"weight": np.array([1.0, 0.5, 0.5])},
        metadata={"dataset": "lhco"},
    )
    t = read_table(tmp_path / "t.parquet")
    np.testing.assert_array_equal(t.features, x)
    assert t.feature_names == ("mjj", "tau21")
    np.testing.assert_array_equal(t.labels, [0, 1, 1])
    assert list(t.types) == ["background", "signal", "signal"]
    assert t.metadata["dataset"] == "lhco"
    assert len(t.select(t.labels == 1)) == 2
    np.testing.assert_array_equal(t.spectators["weight"], [1.0, 0.5, 0.5])


def test_table_errors(tmp_path: Path) -> None:
    x = np.array([[1.0, np.inf]])
    write_table(tmp_path / "inf.parquet", x, ["a", "b"], labels=[0], types="background")
    with pytest.raises(DataFormatError, match=r"NaN/Inf in feature column\(s\) \['b'\]"):
        read_table(tmp_path / "inf.parquet")
    pq.write_table(pa.table({"a": [1.0]}), tmp_path / "plain.parquet")
    with pytest.raises(DataFormatError, match="no hep_aa metadata"):
        read_table(tmp_path / "plain.parquet")
    with pytest.raises(DataFormatError, match="file not found"):
        read_table(tmp_path / "missing.parquet")
    with pytest.raises(ValueError, match="reserved"):
        write_table(tmp_path / "r.parquet", x, ["label", "b"], labels=[0], types="background")


def test_check_outputs_refuses_inputs_and_duplicates(tmp_path: Path) -> None:
    from hep_aa.exceptions import OutputError
    from hep_aa.io.artifacts import check_outputs

    f = tmp_path / "in.h5"
    f.write_bytes(b"x")
    (tmp_path / "link.h5").symlink_to(f)
    check_outputs({"INPUTS": [f]}, {"--output": tmp_path / "out.parquet"})  # fine
    for out in (f, tmp_path / "." / "in.h5", tmp_path / "link.h5"):
        with pytest.raises(OutputError, match="given as both INPUTS and --output"):
            check_outputs({"INPUTS": [f]}, {"--output": out})
    with pytest.raises(OutputError, match="given as both --train and --test"):
        check_outputs({}, {"--train": tmp_path / "x", "--test": tmp_path / "x"})


def test_atomic_path_unwritable_target_is_output_error(tmp_path: Path) -> None:
    from hep_aa.exceptions import OutputError

    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match=r"not a folder|cannot create"):
        write_json(tmp_path / "file" / "out.json", {})
    (tmp_path / "dir").mkdir()
    with pytest.raises(OutputError, match="is a folder"):
        write_json(tmp_path / "dir", {})


def test_empty_and_bad_label_tables(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="no rows"):
        write_table(tmp_path / "e.parquet", np.empty((0, 2)), ["a", "b"], labels=[], types="background")
    assert not (tmp_path / "e.parquet").exists()
    with pytest.raises(ValueError, match="labels must be"):
        write_table(tmp_path / "l.parquet", np.zeros((2, 1)), ["a"], labels=[0, np.nan], types="background")
