from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pandas as pd
import pytest

from hep_aa.cli import main
from hep_aa.exceptions import ConfigError
from hep_aa.features.jets import jet_features
from hep_aa.generate.lhco import (
    ProgressLog,
    final_state,
    generate_lhco,
    lhco_settings,
    make_pythia,
    pass_trigger,
    reconstruct,
    spin1_accept,
)
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
    assert 0 < res.efficiency < 1.0
    assert res.detector == "cms"
    assert res.sigma_mb is not None
    assert res.sigma_selected_pb is not None
    da, db, dc = (pd.read_hdf(p, "df").to_numpy() for p in (a, b, c))
    assert da.shape == (12, 2101)
    np.testing.assert_array_equal(da, db)  # same seed, same file
    assert not np.array_equal(da, dc)  # different seed, independent sample
    assert np.all(da[:, -1] == 0)
    chunk = next(iter_lhco(a))
    assert pass_trigger(chunk.particles).all()
    assert ak.all(chunk.particles.mass == 0)
    assert ak.max(abs(chunk.particles.eta)) < 5.0
    # detector-level hadrons: tracks down to ~0.1 GeV, forward (HF) towers
    assert ak.min(chunk.particles.pt) < 0.5
    assert ak.any(abs(chunk.particles.eta) > 3.0)


def test_settings_of_the_rd_sample() -> None:
    for process in ("qcd", "signal"):
        assert "PartonLevel:MPI = off" in lhco_settings(process)  # type: ignore[arg-type]
    assert "PhaseSpace:pTHatMin = 1100.0" in lhco_settings("qcd")
    sig = lhco_settings("signal")
    assert "34:mWidth = 125.8" in sig  # Pythia's sequential-SM W' width at 3.5 TeV
    assert "37:mWidth = 1.0" in sig
    assert "35:mWidth = 1.0" in sig
    with pytest.raises(ConfigError, match="wprime_width"):
        lhco_settings("signal", wprime_width=0.0)


def test_detector_none_vs_cms_on_the_same_events() -> None:
    pythia = make_pythia(lhco_settings("qcd"), 3)
    events = pythia.nextBatch(20)
    particles = final_state(events, pythia.particleData)
    assert set(particles.fields) == {"px", "py", "pz", "E", "pid", "charge"}
    assert not ak.any(abs(particles.pid) == 12)  # neutrinos dropped
    truth = reconstruct(particles, "none", np.random.default_rng(1))
    reco = reconstruct(particles, "cms", np.random.default_rng(1))
    # the detector loses soft tracks (efficiency, loopers) and merges photons into towers
    assert ak.sum(ak.num(reco)) < ak.sum(ak.num(truth))
    assert ak.min(truth.pt) >= 0.1
    assert ak.max(abs(truth.eta)) < 5.0
    # total visible pT is kept within the calorimeter resolution
    ratio = ak.sum(reco.pt, axis=1) / ak.sum(truth.pt, axis=1)
    assert 0.85 < float(np.median(ak.to_numpy(ratio))) < 1.15
    with pytest.raises(ConfigError, match="unknown detector"):
        reconstruct(particles, "atlas", np.random.default_rng(1))


def test_spin1_helicity_accept_reject() -> None:
    """sin^2 weights: <cos^2> of the accepted W' decay angle is 1/5 instead of 1/3."""
    import vector

    vector.register_awkward()
    pythia = make_pythia(lhco_settings("signal"), 9)
    events = pythia.nextBatch(1500)
    keep = spin1_accept(events, np.random.default_rng(2))
    prt = events.prt
    x = ak.firsts(prt[abs(prt.id) == 37].p)
    y = ak.firsts(prt[abs(prt.id) == 35].p)
    x4 = ak.zip({"px": x.px, "py": x.py, "pz": x.pz, "E": x.e}, with_name="Momentum4D")
    y4 = ak.zip({"px": y.px, "py": y.py, "pz": y.pz, "E": y.e}, with_name="Momentum4D")
    xr = x4.boostCM_of_p4(x4 + y4)
    cos2 = ak.to_numpy(xr.pz / xr.p) ** 2
    assert np.mean(cos2) == pytest.approx(1 / 3, abs=0.03)  # Pythia: isotropic
    assert np.mean(cos2[keep]) == pytest.approx(1 / 5, abs=0.03)
    # three independent sin^2 factors: (2/3)^3 of the events survive
    assert keep.mean() == pytest.approx((2 / 3) ** 3, abs=0.04)


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
    # the real R&D file (907 QCD events) has 431 / 373 / 81 in these bins: falling, with the
    # first two close because the 1.2 TeV trigger already sits at mjj ~ 2.5-3 TeV
    assert counts[0] > counts[1] > counts[2] > 0
    assert counts[1] > 2 * counts[2]
    assert c["pt_j1"].min() > 1100  # the 1.2 TeV trigger jet is (almost always) the leading one


def test_hopeless_acceptance_ends_with_a_clear_error(tmp_path: Path) -> None:
    """A 600 GeV W' cannot make a 1.2 TeV jet: a ConfigError, not an endless loop."""
    out = tmp_path / "light.h5"
    with pytest.raises(ConfigError, match="acceptance too low: none of 2000 generated signal events"):
        generate_lhco(out, "signal", 10, seed=1, m_wprime=600.0, m_x=300.0, m_y=100.0, batch_size=500)
    assert not out.exists()  # nothing half-written


def test_acceptance_projection() -> None:
    from hep_aa.generate.lhco import _check_acceptance

    _check_acceptance("qcd", 1999, 0, 10, 10_000)  # too early to judge
    _check_acceptance("qcd", 4000, 40, 100, 10_000)  # 10,000 projected: at the limit, fine
    with pytest.raises(ConfigError, match=r"efficiency 0.01.*about 2e\+04 generated.*raise --pthat-min"):
        _check_acceptance("qcd", 4000, 40, 200, 10_000)


def test_progress_log(caplog: pytest.LogCaptureFixture) -> None:
    ticker = ProgressLog("gen", 100, every=0.0)
    with caplog.at_level("INFO", logger="hep_aa.generate.lhco"):
        ticker(25, ", extra")
        ticker(100)  # done: nothing more
    (record,) = caplog.records
    assert "gen: 25/100 events (25%)" in record.message
    assert "ETA" in record.message
    assert "extra" in record.message


def test_bad_generator_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="m_X \\+ m_Y < m_W'"):
        lhco_settings("signal", m_wprime=500.0, m_x=400.0, m_y=200.0)
    with pytest.raises(ConfigError, match="unknown LHCO process"):
        lhco_settings("ttbar")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="n_events"):
        generate_lhco(tmp_path / "x.h5", "qcd", 0, seed=1)
    with pytest.raises(ConfigError, match="unknown detector"):
        generate_lhco(tmp_path / "x.h5", "qcd", 1, seed=1, detector="atlas")


def test_cli_generate_then_features(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sig.h5"
    assert (
        main(["generate", "lhco", "--process", "signal", "--n-events", "30", "--seed", "4", "-o", str(out)])
        == 0
    )
    printed = capsys.readouterr().out
    assert "30 signal events, detector cms" in printed
    assert "pb" not in printed  # no meaningless cross section for the hand-made W' decay table
    truth = tmp_path / "qcd_truth.h5"
    assert (
        main(
            [
                "generate",
                "lhco",
                "--process",
                "qcd",
                "--n-events",
                "5",
                "--seed",
                "4",
                "--detector",
                "none",
                "-o",
                str(truth),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "detector none" in printed
    assert "sigma after selection" in printed
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
