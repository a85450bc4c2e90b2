from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pandas as pd
import pytest

from hep_aa.cli import main
from hep_aa.exceptions import ConfigError
from hep_aa.features.jets import jet_features
from hep_aa.generate.lhco import generate_lhco, lhco_settings, pass_trigger
from hep_aa.io.lhco import iter_lhco


def _features(path: Path) -> dict[str, np.ndarray]:
    chunks = list(iter_lhco(path))
    parts = ak.concatenate([c.particles for c in chunks])
    return jet_features(parts).columns


def test_qcd_reproducible_selected_and_readable(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.h5", tmp_path / "b.h5", tmp_path / "c.h5"
    res = generate_lhco(a, "qcd", 12, seed=5, batch_size=100)
    generate_lhco(b, "qcd", 12, seed=5, batch_size=100)
    generate_lhco(c, "qcd", 12, seed=6, batch_size=100)
    assert res.n_written == 12
    assert res.n_generated >= 12
    assert 0 < res.efficiency < 0.5
    da, db, dc = (pd.read_hdf(p, "df").to_numpy() for p in (a, b, c))
    assert da.shape == (12, 2101)
    np.testing.assert_array_equal(da, db)  # same seed, same file
    assert not np.array_equal(da, dc)  # different seed, independent sample
    assert np.all(da[:, -1] == 0)
    chunk = next(iter_lhco(a))
    assert pass_trigger(chunk.particles).all()
    assert ak.all(chunk.particles.mass == 0)
    assert ak.max(abs(chunk.particles.eta)) < 4.0


@pytest.mark.slow
def test_signal_physics_sanity(tmp_path: Path) -> None:
    """2000 W' -> X(500) Y(100) events: jet masses and mjj at the generated masses.

    Measured (seed 3): median heavier-jet mass ≈ 499 GeV, lighter ≈ 110 GeV, mjj ≈ 3.5 TeV.
    """
    path = tmp_path / "signal.h5"
    generate_lhco(path, "signal", 2000, seed=3)
    c = _features(path)
    heavy = np.maximum(c["m_j1"], c["m_j2"])
    light = np.minimum(c["m_j1"], c["m_j2"])
    assert len(heavy) >= 1990
    assert np.median(heavy) == pytest.approx(500.0, rel=0.15)
    assert np.median(light) == pytest.approx(100.0, rel=0.25)
    assert np.median(c["mjj"]) == pytest.approx(3500.0, rel=0.10)
    assert np.all(pd.read_hdf(path, "df").to_numpy()[:, -1] == 1)


@pytest.mark.slow
def test_qcd_mjj_falls_steeply(tmp_path: Path) -> None:
    path = tmp_path / "qcd.h5"
    generate_lhco(path, "qcd", 150, seed=8)
    c = _features(path)
    counts, _ = np.histogram(c["mjj"], bins=[2000, 3000, 4000, 5000])
    assert counts[0] > 2 * counts[1] > 0
    assert counts[1] > counts[2]
    assert c["pt_j1"].min() > 1100  # the 1.2 TeV trigger jet is (almost always) the leading one


def test_bad_generator_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="m_X \\+ m_Y < m_W'"):
        lhco_settings("signal", m_wprime=500.0, m_x=400.0, m_y=200.0)
    with pytest.raises(ConfigError, match="unknown LHCO process"):
        lhco_settings("ttbar")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="n_events"):
        generate_lhco(tmp_path / "x.h5", "qcd", 0, seed=1)


def test_cli_generate_then_features(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sig.h5"
    assert (
        main(["generate", "lhco", "--process", "signal", "--n-events", "30", "--seed", "4", "-o", str(out)])
        == 0
    )
    assert "30 signal events" in capsys.readouterr().out
    table = tmp_path / "sig.parquet"
    assert (
        main(["features", "lhco", str(out), "--set", "official", "--chunk-size", "7", "-o", str(table)]) == 0
    )
    from hep_aa.io.artifacts import read_table

    t = read_table(table)
    assert len(t) == 30
    assert t.feature_names[0] == "pxj1"
    assert set(t.types) == {"signal"}
    assert t.metadata["units"] == "GeV"
    np.testing.assert_array_equal(np.sort(t.spectators["event_index"]), np.arange(30))
