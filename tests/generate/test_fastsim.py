"""The Delphes-CMS-like fast detector on hand-made particles, checked against the card."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from hep_aa.exceptions import ConfigError
from hep_aa.generate import fastsim
from hep_aa.generate.fastsim import KIND_NEUTRAL_HADRON, KIND_PHOTON, KIND_TRACK, btag, load_card, simulate

MASSES = {211: 0.13957, 130: 0.497611, 22: 0.0, 11: 0.000511, 13: 0.10566, 12: 0.0}
CHARGES = {211: 1, -211: -1, 130: 0, 22: 0, 11: -1, -11: 1, 13: -1, -13: 1, 12: 0}


def _particles(events: list[list[tuple[int, float, float, float]]]) -> ak.Array:
    """Events of (pid, pT, eta, phi) -> the records simulate() takes."""
    rows = []
    for ev in events:
        recs = []
        for pid, pt, eta, phi in ev:
            m = MASSES[abs(pid)]
            px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
            e = float(np.sqrt(px**2 + py**2 + pz**2 + m**2))
            recs.append({"px": px, "py": py, "pz": pz, "E": e, "pid": pid, "charge": CHARGES[pid]})
        rows.append(recs)
    return ak.Array(rows)


def _many(n: int, particle: tuple[int, float, float, float]) -> ak.Array:
    return _particles([[particle]] * n)


def test_card_values_and_grid() -> None:
    card = load_card("cms")
    assert card.raw["propagator"] == {"radius": 1.29, "half_length": 3.0, "bz": 3.8}
    # ECal: 0.0174 crystals up to |eta| = 2.958, HF beyond; HCal: 0.087 x 5 deg in the barrel
    k = np.searchsorted(card.ecal.eta_edges, 0.01)
    assert card.ecal.eta_edges[k] - card.ecal.eta_edges[k - 1] == pytest.approx(0.0174)
    assert card.ecal.n_phi[k] == 360
    assert card.hcal.n_phi[np.searchsorted(card.hcal.eta_edges, 0.01)] == 72
    assert card.hcal.n_phi[np.searchsorted(card.hcal.eta_edges, 4.8)] == 18
    assert card.ecal.eta_edges[0] == -5
    assert card.ecal.eta_edges[-1] == 5
    # the tower of (eta, phi) = (0.01, 0.01): ECal bin (0, 0.0174] x (0, 1 deg]
    tower, ok = card.ecal.towers(np.array([0.01]), np.array([0.01]))
    lo, hi, plo, phi_hi = card.ecal.tower_edges(tower)
    assert ok[0]
    assert lo[0] == pytest.approx(0.0)
    assert hi[0] == pytest.approx(0.0174)
    assert plo[0] == pytest.approx(0.0)
    assert phi_hi[0] == pytest.approx(np.pi / 180)
    _, ok = card.ecal.towers(np.array([5.2]), np.array([0.0]))
    assert not ok[0]  # beyond the calorimeters
    # resolution formulas at a point, by hand: ECal barrel at eta 0.5, HCal HF
    assert card.ecal.sigma(np.array([0.5]), np.array([50.0]))[0] == pytest.approx(
        (1 + 0.64 * 0.25) * np.sqrt((0.008 * 50) ** 2 + 0.11**2 * 50 + 0.40**2)
    )
    assert card.hcal.sigma(np.array([4.0]), np.array([100.0]))[0] == pytest.approx(
        np.sqrt((0.13 * 100) ** 2 + 2.7**2 * 100)
    )
    with pytest.raises(ConfigError, match="unknown detector card"):
        load_card("atlas")


def test_photon_energy_resolution_and_kind() -> None:
    out = simulate(_many(3000, (22, 50.0, 0.5, 1.0)), np.random.default_rng(1))
    assert ak.all(ak.num(out.eflow) == 1)
    assert ak.all(out.eflow.kind == KIND_PHOTON)
    assert ak.all(out.eflow.pid == 22)
    e = ak.to_numpy(ak.flatten(out.eflow.pt * np.cosh(out.eflow.eta)))
    e_true = 50.0 * np.cosh(0.5)
    eta_c = 0.5 * (np.floor(0.5 / 0.0174) * 0.0174 + np.ceil(0.5 / 0.0174) * 0.0174)
    sigma = load_card().ecal.sigma(np.array([eta_c]), np.array([e_true]))[0]
    assert np.mean(e) == pytest.approx(e_true, abs=4 * sigma / np.sqrt(len(e)))  # log-normal keeps the mean
    assert np.std(e) == pytest.approx(sigma, rel=0.08)
    # tower-centre smearing: uniform inside the 0.0174 x 1 deg crystal
    eta = ak.to_numpy(ak.flatten(out.eflow.eta))
    assert np.ptp(eta) <= 0.0174
    assert np.std(eta) == pytest.approx(0.0174 / np.sqrt(12), rel=0.1)


def test_charged_pion_tracking_efficiency_and_resolution() -> None:
    n = 4000
    out = simulate(_many(n, (211, 10.0, 0.2, 0.3)), np.random.default_rng(2))
    tracks = out.eflow[out.eflow.kind == KIND_TRACK]
    n_track = int(ak.sum(ak.num(tracks)))
    eff = 0.95  # |eta| <= 1.5, pT > 1 GeV
    assert n_track / n == pytest.approx(eff, abs=4 * np.sqrt(eff * (1 - eff) / n))
    assert ak.all(tracks.charge == 1)
    assert ak.all(tracks.pid == 211)
    pt = ak.to_numpy(ak.flatten(tracks.pt))
    # sigma(pT)/pT = sqrt(0.01^2 + (10 * 1.5e-4)^2) for |eta| <= 0.5; the HCal rescaling towards
    # the (much worse) calorimeter measurement moves the track by far less than that
    res = np.sqrt(0.01**2 + (10 * 1.5e-4) ** 2)
    assert np.std(pt) / 10.0 == pytest.approx(res, rel=0.15)
    assert np.mean(pt) == pytest.approx(10.0, rel=3e-3)
    # a pion without a track leaves its energy in the HCal: a neutral hadron (or nothing); with
    # a track, only an upward HCal fluctuation by more than 1 sigma (the card's significance)
    # above the track makes one (sigma/E = 47 % at 10 GeV: about one in nine)
    neutral = out.eflow[out.eflow.kind == KIND_NEUTRAL_HADRON]
    has_track = ak.any(out.eflow.kind == KIND_TRACK, axis=1)
    assert int(ak.sum(ak.num(neutral[~has_track]))) <= n - n_track
    assert 0.05 < ak.sum(ak.num(neutral[has_track])) / n_track < 0.2


def test_looper_is_not_a_track_and_barrel_bending() -> None:
    # pT 0.2 GeV at eta 0.3: helix diameter 0.35 m < 1.29 m, leaves through the endcap at
    # |eta| >= asinh(3 / 0.35) = 2.84 > 2.5: never a track (Delphes evaluates at the position)
    out = simulate(_many(500, (211, 0.2, 0.3, 0.0)), np.random.default_rng(3))
    assert int(ak.sum(ak.num(out.eflow[out.eflow.kind == KIND_TRACK]))) == 0
    # pT 1 GeV, eta 0, charge +1 reaches the barrel: phi turns by -asin(R / 2r), r = pT / (0.3 B)
    pt = np.array([1.0])
    eta_pos, phi_pos = fastsim._propagate(
        pt, np.array([0.0]), np.array([0.0]), np.array([0.0]), np.array([1.0]), load_card().raw["propagator"]
    )
    r = 1.0 / (0.299792458 * 3.8)
    assert eta_pos[0] == pytest.approx(0.0, abs=1e-12)
    assert phi_pos[0] == pytest.approx(-np.arcsin(1.29 / (2 * r)))


def test_neutral_hadron_and_energy_flow_subtraction() -> None:
    out = simulate(_many(1000, (130, 100.0, 0.3, 0.0)), np.random.default_rng(4))
    assert ak.all(out.eflow.kind == KIND_NEUTRAL_HADRON)  # K0L: HCal only
    assert ak.all(out.eflow.pid == 0)
    # a pion alone: its track takes its HCal deposit; a neutral hadron appears only when the
    # smeared tower fluctuates significantly above the track (a few per cent)
    out = simulate(_many(1000, (211, 50.0, 0.3, 0.0)), np.random.default_rng(5))
    has_track = ak.any(out.eflow.kind == KIND_TRACK, axis=1)
    fake = ak.sum(ak.num(out.eflow[has_track & (out.eflow.kind == KIND_NEUTRAL_HADRON)]))
    assert fake / ak.sum(has_track) < 0.2


def test_leptons_isolation_and_met() -> None:
    events = _particles(
        [
            [(13, 50.0, 0.5, 0.0), (12, 80.0, 0.0, np.pi)],  # isolated muon + neutrino
            [(11, 40.0, -0.3, 1.0), (211, 30.0, -0.2, 1.1)],  # electron next to a 30 GeV pion
            [(11, 40.0, -0.3, 1.0)],  # isolated electron
            [(13, 5.0, 0.5, 0.0)],  # below the 10 GeV lepton threshold
        ]
        * 300
    )
    out = simulate(events, np.random.default_rng(6))
    n_mu = ak.to_numpy(ak.num(out.muons))
    n_e = ak.to_numpy(ak.num(out.electrons))
    assert n_mu[0::4].mean() == pytest.approx(0.99 * 0.95, abs=0.04)  # tracking x muon efficiency
    assert n_mu[3::4].sum() == 0
    assert n_e[1::4].sum() == 0  # not isolated: 30 / 40 > 0.12
    # tracking 0.95 x identification 0.95, less the few per cent whose track fluctuates low
    # enough (sigma 6 %) to leave a significant ECal excess: a photon inside the isolation cone
    assert 0.80 < n_e[2::4].mean() < 0.95 * 0.95 + 0.03
    # MET = -(sum of EFlow pT): the muon track (50 GeV at phi 0) is all there is, the neutrino
    # is invisible (were it seen, MET would be 30 GeV)
    assert np.median(out.met_pt[0::4]) == pytest.approx(50.0, rel=0.02)
    assert np.median(np.abs(np.abs(out.met_phi[0::4]) - np.pi)) < 0.1
    assert ak.all(out.muons.charge[0::4] == -1)


def test_btag_rates() -> None:
    import vector

    vector.register_awkward()
    n = 4000
    rng = np.random.default_rng(7)
    jets = ak.zip(
        {
            "pt": np.full((n, 2), 100.0),
            "eta": np.tile([0.5, 3.0], (n, 1)),
            "phi": np.zeros((n, 2)),
            "mass": np.zeros((n, 2)),
        },
        with_name="Momentum4D",
    )
    jets = ak.Array(jets)
    partons = ak.zip(
        {
            "pt": np.full((n, 1), 60.0),
            "eta": np.full((n, 1), 0.6),
            "phi": np.full((n, 1), 0.1),
            "mass": np.full((n, 1), 4.8),
            "pid": np.full((n, 1), 5),
        },
        with_name="Momentum4D",
    )
    flavour, tagged = btag(jets, ak.Array(partons), rng)
    assert ak.all(flavour[:, 0] == 5)
    assert ak.all(flavour[:, 1] == 0)
    eff_b = 0.85 * np.tanh(0.0025 * 100) * 25.0 / (1 + 0.063 * 100)
    frac = ak.mean(tagged[:, 0])
    assert frac == pytest.approx(eff_b, abs=4 * np.sqrt(eff_b * (1 - eff_b) / n))
    assert not ak.any(tagged[:, 1])  # |eta| 3 > 2.5: never tagged
    # light jets: mistag 0.01 + 3.8e-5 pT
    light, tag_l = btag(jets[:, :1], ak.Array(partons)[:, :0], rng)
    assert ak.all(light == 0)
    assert ak.mean(tag_l) == pytest.approx(0.01 + 3.8e-5 * 100, abs=0.01)


def test_reproducible_and_vectorised_batch() -> None:
    events = _particles(
        [[(211, 5.0, 0.1 * i, 0.2 * i), (22, 8.0, -0.1 * i, 1.0), (130, 20.0, 3.5, 2.0)] for i in range(20)]
    )
    a = simulate(events, np.random.default_rng(8))
    b = simulate(events, np.random.default_rng(8))
    assert ak.to_list(a.eflow) == ak.to_list(b.eflow)
    assert len(a.eflow) == 20
    assert ak.all(ak.num(a.eflow) >= 1)
    assert ak.all(np.abs(a.eflow.eta) <= 5.0)
    # sorted by pT inside each event
    assert ak.all(a.eflow.pt[:, 1:] <= a.eflow.pt[:, :-1])
