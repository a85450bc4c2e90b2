from __future__ import annotations

from pathlib import Path

import awkward as ak
import h5py
import numpy as np
import pandas as pd
import pytest

from hep_aa.exceptions import DataFormatError
from hep_aa.io.lhco import (
    HIGH_LEVEL_COLUMNS,
    MAX_PARTICLES,
    LHCOWriter,
    count_events,
    iter_delphes_eflow,
    iter_lhco,
    pad_particles,
    read_high_level,
    read_masterkey,
)

K = 3 * MAX_PARTICLES


def _block(n: int, seed: int = 0) -> tuple[np.ndarray, list[int]]:
    """n events of LHCO-style rows: 47..120 particles, unsorted, zero-padded at the end."""
    rng = np.random.default_rng(seed)
    block = np.zeros((n, K))
    counts = rng.integers(47, 120, n).tolist()
    for i, m in enumerate(counts):
        trip = np.column_stack(
            [rng.exponential(20, m) + 0.1, rng.normal(0, 1.5, m), rng.uniform(-np.pi, np.pi, m)]
        )
        block[i, : 3 * m] = trip.ravel()
    return block, counts


@pytest.fixture(scope="module")
def rnd_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    path = tmp_path_factory.mktemp("lhco") / "events.h5"
    block, _ = _block(40)
    labels = np.r_[np.zeros(30), np.ones(10)]
    with LHCOWriter(path, 40) as w:
        w.write(block[:25], labels[:25])
        w.write(block[25:], labels[25:])
    return path, block, labels


def test_writer_layout_matches_pandas(rnd_file: tuple[Path, np.ndarray, np.ndarray], tmp_path: Path) -> None:
    path, block, labels = rnd_file
    df = pd.read_hdf(path, "df")
    assert df.shape == (40, K + 1)
    np.testing.assert_array_equal(df.to_numpy()[:, :K], block)
    np.testing.assert_array_equal(df.to_numpy()[:, K], labels)
    assert list(df.columns) == list(range(K + 1))
    ref = tmp_path / "pandas.h5"
    pd.DataFrame(np.column_stack([block, labels])).to_hdf(
        ref, key="df", mode="w", complib="blosc", complevel=5
    )
    with h5py.File(path) as ours, h5py.File(ref) as theirs:
        assert (
            set(ours["df"].keys())
            == set(theirs["df"].keys())
            == {"axis0", "axis1", "block0_items", "block0_values"}
        )
        assert dict(ours["df"].attrs) == dict(theirs["df"].attrs)
        for name in ("axis0", "axis1", "block0_items", "block0_values"):
            a, b = ours["df"][name], theirs["df"][name]
            assert a.dtype == b.dtype
            assert a.shape == b.shape
            assert "32001" in a._filters  # blosc
            assert a.attrs.get("transposed") == b.attrs.get("transposed")
        assert ours["df/block0_values"].dtype == np.float64


def test_reader_yields_unpadded_momentum4d(rnd_file: tuple[Path, np.ndarray, np.ndarray]) -> None:
    path, block, labels = rnd_file
    chunks = list(iter_lhco(path, chunk_size=16))
    assert [len(c) for c in chunks] == [16, 16, 8]
    assert [c.start for c in chunks] == [0, 16, 32]
    parts = ak.concatenate([c.particles for c in chunks])
    expected_counts = (block[:, 0::3] > 0).sum(axis=1)
    np.testing.assert_array_equal(ak.num(parts), expected_counts)
    np.testing.assert_allclose(ak.to_numpy(parts[3].pt), block[3, 0 : 3 * expected_counts[3] : 3])
    assert ak.all(parts.mass == 0)
    # usable as vector Momentum4D
    np.testing.assert_allclose(
        ak.to_numpy(parts[0].px),
        block[0, 0 : 3 * expected_counts[0] : 3] * np.cos(block[0, 2 : 3 * expected_counts[0] : 3]),
    )
    np.testing.assert_array_equal(np.concatenate([c.labels for c in chunks]), labels)


def test_reader_reads_pandas_written_file_and_ranges(tmp_path: Path) -> None:
    block, _ = _block(20, seed=1)
    path = tmp_path / "pd.h5"
    pd.DataFrame(np.column_stack([block, np.ones(20)])).to_hdf(
        path, key="df", mode="w", complib="blosc", complevel=5
    )
    chunks = list(iter_lhco(path, chunk_size=4, start=5, stop=13))
    assert [c.start for c in chunks] == [5, 9]
    assert sum(len(c) for c in chunks) == 8
    np.testing.assert_allclose(
        ak.to_numpy(chunks[0].particles[0].eta), block[5, 1 : 3 * int((block[5, 0::3] > 0).sum()) : 3]
    )
    assert count_events(path) == 20


def test_black_box_with_masterkey(tmp_path: Path) -> None:
    block, _ = _block(12, seed=2)
    path = tmp_path / "bb.h5"
    with LHCOWriter(path, 12, with_label=False) as w:
        w.write(block)
    key = tmp_path / "bb.masterkey"
    key.write_text("\n".join(["0"] * 9 + ["1"] * 3) + "\n")
    (chunk,) = list(iter_lhco(path, masterkey=key))
    np.testing.assert_array_equal(chunk.labels, [0] * 9 + [1] * 3)
    assert next(iter_lhco(path)).labels is None
    key.write_text("0\n1\n")
    with pytest.raises(DataFormatError, match="masterkey has 2 labels but the events file has 12"):
        next(iter_lhco(path, masterkey=key))
    key.write_text("0\nsignal\n")
    with pytest.raises(DataFormatError, match="line 2"):
        read_masterkey(key)


def test_bad_files(tmp_path: Path, rnd_file: tuple[Path, np.ndarray, np.ndarray]) -> None:
    text = tmp_path / "not.h5"
    text.write_text("hello")
    with pytest.raises(DataFormatError, match="not an HDF5 file"):
        next(iter_lhco(text))
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(DataFormatError, match="no /df/block0_values"):
        next(iter_lhco(other))
    narrow = tmp_path / "narrow.h5"
    pd.DataFrame(np.zeros((3, 10))).to_hdf(narrow, key="df", mode="w")
    with pytest.raises(DataFormatError, match=r"shape \(3, 10\)"):
        next(iter_lhco(narrow))
    with pytest.raises(DataFormatError, match="file not found"):
        next(iter_lhco(tmp_path / "missing.h5"))


def test_truncated_file(tmp_path: Path, rnd_file: tuple[Path, np.ndarray, np.ndarray]) -> None:
    path, _, _ = rnd_file
    data = path.read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match=r"cut\.h5: .*(truncated|corrupt)"):
        list(iter_lhco(cut))


def test_nan_in_particles(tmp_path: Path) -> None:
    block, _ = _block(5, seed=3)
    block[3, 4] = np.nan
    path = tmp_path / "nan.h5"
    pd.DataFrame(block).to_hdf(path, key="df", mode="w", complib="blosc", complevel=5)
    with pytest.raises(DataFormatError, match=r"NaN/Inf in particle columns of event\(s\) \[3\]"):
        list(iter_lhco(path))


def test_writer_is_atomic(tmp_path: Path) -> None:
    path = tmp_path / "partial.h5"
    block, _ = _block(4)
    with pytest.raises(ValueError, match="2 rows written but n_events=4"), LHCOWriter(path, 4) as w:
        w.write(block[:2], [0, 0])
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_pad_particles_sorts_and_truncates() -> None:
    pt = ak.Array([[1.0, 5.0, 3.0], list(np.arange(1.0, 706.0))])
    eta = ak.Array([[0.1, 0.5, 0.3], list(np.zeros(705))])
    block = pad_particles(pt, eta, eta)
    assert block.shape == (2, K)
    np.testing.assert_array_equal(block[0, :9], [5.0, 0.5, 0.5, 3.0, 0.3, 0.3, 1.0, 0.1, 0.1])
    assert block[0, 9:].sum() == 0
    assert block[1, 0] == 705.0  # hardest kept
    assert block[1, -3] == 6.0  # 700th hardest


def test_high_level_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(8, 15)), columns=HIGH_LEVEL_COLUMNS)
    df["label"] = [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0]  # float64, one block, as in the real file
    path = tmp_path / "features.h5"
    df.to_hdf(path, key="df", mode="w", complib="blosc", complevel=5)
    cols = read_high_level(path)
    assert list(cols) == list(HIGH_LEVEL_COLUMNS)
    np.testing.assert_array_equal(cols["mj1"], df["mj1"].to_numpy())
    np.testing.assert_array_equal(cols["label"], df["label"].to_numpy())
    df.loc[3, "label"] = 2.0
    df.to_hdf(tmp_path / "label2.h5", key="df", mode="w")
    with pytest.raises(DataFormatError, match=r"label2\.h5: column 'label' holds 2 at event 3"):
        read_high_level(tmp_path / "label2.h5")
    df.loc[3, "label"] = 0.0
    df.loc[5, "tau2j1"] = np.nan
    df.to_hdf(tmp_path / "nan.h5", key="df", mode="w")
    with pytest.raises(DataFormatError, match=r"nan\.h5: NaN/Inf in column 'tau2j1' of event\(s\) \[5\]"):
        read_high_level(tmp_path / "nan.h5")
    bad = tmp_path / "bad.h5"
    pd.DataFrame(rng.normal(size=(2, 3)), columns=["a", "b", "c"]).to_hdf(bad, key="df", mode="w")
    with pytest.raises(DataFormatError, match="not the 15 LHCO high-level columns"):
        read_high_level(bad)


def test_delphes_eflow_real_sample(shared_data: Path) -> None:
    path = shared_data / "root" / "delphes.root"
    chunks = list(iter_delphes_eflow(path, chunk_size=10))
    assert sum(len(c) for c in chunks) == 25
    import uproot

    with uproot.open(path) as f:
        tree = f["Delphes"]
        n0 = sum(
            len(tree[b].array()[0]) for b in ("EFlowTrack.PT", "EFlowPhoton.ET", "EFlowNeutralHadron.ET")
        )
    parts = chunks[0].particles
    assert len(parts[0]) == n0
    assert ak.all(parts.pt[:, :-1] >= parts.pt[:, 1:])


def test_delphes_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "x.root"
    bad.write_bytes(b"not root at all")
    with pytest.raises(DataFormatError, match="not a readable ROOT file"):
        next(iter_delphes_eflow(bad))


def test_negative_pt_and_bad_labels_are_errors(tmp_path: Path) -> None:
    """A negative pT would be dropped as padding and NaN/7 labels cast to 0/7 without a word."""
    block, _ = _block(6)
    bad = block.copy()
    bad[4, 3] = -120.0
    with LHCOWriter(tmp_path / "neg.h5", 6) as w:
        w.write(bad, np.zeros(6))
    with pytest.raises(
        DataFormatError, match=r"neg\.h5: negative pT in event\(s\) \[4\] \(first in column 3"
    ):
        list(iter_lhco(tmp_path / "neg.h5"))
    for name, labels, value in (("nan", [0, 0, np.nan, 0, 0, 0], "nan"), ("seven", [0, 7, 0, 0, 0, 0], "7")):
        with LHCOWriter(tmp_path / f"{name}.h5", 6) as w:
            w.write(block, np.asarray(labels, dtype=float))
        with pytest.raises(DataFormatError, match=rf"{name}\.h5: label column 2100 holds {value} at event"):
            list(iter_lhco(tmp_path / f"{name}.h5"))
    (tmp_path / "k.masterkey").write_text("0\n2\n")
    with pytest.raises(DataFormatError, match=r"k\.masterkey: masterkey holds 2 at event 1"):
        read_masterkey(tmp_path / "k.masterkey")


def test_event_range_errors(rnd_file: tuple[Path, np.ndarray, np.ndarray]) -> None:
    path, _, _ = rnd_file
    with pytest.raises(DataFormatError, match="--stop 2 is before --start 5"):
        list(iter_lhco(path, start=5, stop=2))
    with pytest.raises(DataFormatError, match="--start 400 is beyond the file's 40 events"):
        list(iter_lhco(path, start=400))
