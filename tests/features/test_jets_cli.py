"""``hep-aa features lhco`` on the real R&D events: workers, event ranges, a failing chunk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from hep_aa.cli import main
from hep_aa.io.artifacts import read_table
from hep_aa.io.lhco import MAX_PARTICLES, LHCOWriter


@pytest.fixture(scope="module")
def real_file(shared_data: Path) -> Path:
    return shared_data / "lhco" / "events_anomalydetection_tiny.h5"


@pytest.fixture(scope="module")
def single(real_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lhco_cli") / "one.parquet"
    assert (
        main(["features", "lhco", str(real_file), "--set", "official", "--chunk-size", "300", "-o", str(out)])
        == 0
    )
    return out


def test_workers_write_the_single_process_table(real_file: Path, single: Path, tmp_path: Path) -> None:
    """Two worker processes, other chunk sizes: the same parquet table, bit for bit."""
    for workers, chunk in (("2", "128"), ("1", "1000")):
        out = tmp_path / f"w{workers}_{chunk}.parquet"
        argv = ["features", "lhco", str(real_file), "--set", "official", "--chunk-size", chunk]
        assert main([*argv, "--workers", workers, "-o", str(out)]) == 0
        assert pq.read_table(out).equals(pq.read_table(single)), (workers, chunk)
    t = read_table(single)
    assert t.features.shape == (1000, 14)
    np.testing.assert_array_equal(t.spectators["event_index"], np.arange(1000))


def test_event_ranges_concatenate_to_one_run(real_file: Path, single: Path, tmp_path: Path) -> None:
    """--start/--stop ranges (as parallel workflow jobs would run them) concatenate to the
    one-run table, and ``hep-aa split`` of the ranges equals ``split`` of the one run."""
    parts = []
    for lo, hi in ((0, 350), (350, 1000)):
        out = tmp_path / f"r{lo}.parquet"
        argv = [
            "features",
            "lhco",
            str(real_file),
            "--set",
            "official",
            "--start",
            str(lo),
            "--stop",
            str(hi),
        ]
        assert main([*argv, "--workers", "2", "--chunk-size", "200", "-o", str(out)]) == 0
        parts.append(out)
    whole, ranges = read_table(single), [read_table(p) for p in parts]
    np.testing.assert_array_equal(np.vstack([r.features for r in ranges]), whole.features)
    np.testing.assert_array_equal(np.concatenate([r.labels for r in ranges]), whole.labels)
    for k in ("event_index", "mjj_gev", "source_file"):
        np.testing.assert_array_equal(np.concatenate([r.spectators[k] for r in ranges]), whole.spectators[k])
    split = {}
    for name, inputs in (("ranges", [str(p) for p in parts]), ("whole", [str(single)])):
        train, test = tmp_path / f"{name}_train.parquet", tmp_path / f"{name}_test.parquet"
        assert main(["split", *inputs, "--seed", "3", "--train", str(train), "--test", str(test)]) == 0
        split[name] = (read_table(train), read_table(test))
    for a, b in zip(split["ranges"], split["whole"], strict=True):
        np.testing.assert_array_equal(a.features, b.features)
        np.testing.assert_array_equal(a.spectators["event_index"], b.spectators["event_index"])


def test_a_failing_chunk_is_one_error_and_no_output(
    real_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import h5py
    import hdf5plugin  # noqa: F401

    with h5py.File(real_file, "r") as f:
        block = f["df/block0_values"][:400]
    block[250, 3 * 7 + 1] = np.nan  # eta of particle 7 of event 250
    bad = tmp_path / "bad.h5"
    with LHCOWriter(bad, len(block)) as w:
        w.write(block[:, : 3 * MAX_PARTICLES], block[:, -1])
    out = tmp_path / "out.parquet"
    for workers in ("1", "2"):
        argv = ["features", "lhco", str(bad), "--chunk-size", "100", "--workers", workers, "-o", str(out)]
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, err
        assert err[0].startswith("hep-aa: error:")
        assert str(bad) in err[0]
        assert "[250]" in err[0]
        assert "events 200-299" in err[0]
        assert not out.exists()
        assert not list(tmp_path.glob("*.parquet*"))
