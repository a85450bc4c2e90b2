from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from hep_aa.features.higgs import VH_FEATURES, collins_soper, vh_features


def _lep(pt, eta, phi, charge, pdg):  # type: ignore[no-untyped-def]
    return {"pt": pt, "eta": eta, "phi": phi, "mass": 0.0, "charge": charge, "pdgId": pdg}


def _jet(pt, eta, phi, btag):  # type: ignore[no-untyped-def]
    return {"pt": pt, "eta": eta, "phi": phi, "mass": 5.0, "btag": btag}


def test_candidates_and_fallback() -> None:
    events = ak.Array(
        [
            {  # two OSSF pairs (ee near m_Z, mumu far), two b jets + a harder light jet
                "leptons": [
                    _lep(50, 0.1, 0.0, -1, 11),
                    _lep(45, -0.3, 2.9, 1, -11),
                    _lep(30, 1.0, 1.0, -1, 13),
                    _lep(5, 1.2, 1.3, 1, -13),
                ],
                "jets": [_jet(200, 0.0, 1.0, 0.0), _jet(80, 0.5, -2.0, 1.0), _jet(60, -0.5, -1.5, 1.0)],
                "weight": 2.0,
            },
            {  # same-sign leptons only: dropped
                "leptons": [_lep(50, 0.1, 0.0, -1, 11), _lep(45, -0.3, 2.9, -1, 11)],
                "jets": [_jet(80, 0.5, -2.0, 1.0), _jet(60, -0.5, -1.5, 1.0)],
                "weight": 1.0,
            },
            {  # no b tags: leading jets, flagged
                "leptons": [_lep(50, 0.1, 0.0, 1, -13), _lep(45, -0.3, 2.9, -1, 13)],
                "jets": [_jet(80, 0.5, -2.0, 0.0), _jet(60, -0.5, -1.5, 0.0)],
                "weight": 1.0,
            },
        ]
    )
    f = vh_features(events)
    np.testing.assert_array_equal(f.kept, [True, False, True])
    assert f.n_dropped == 1
    np.testing.assert_array_equal(f.columns["h_fallback"], [0, 1])
    np.testing.assert_array_equal(f.columns["weight"], [2.0, 1.0])
    assert f.matrix().shape == (2, len(VH_FEATURES))
    # the ee pair was chosen: its pT is that of the two electrons
    px = 50 * np.cos(0.0) + 45 * np.cos(2.9)
    py = 50 * np.sin(0.0) + 45 * np.sin(2.9)
    assert f.columns["pt_z"][0] == pytest.approx(np.hypot(px, py), rel=1e-9)
    # the h uses the two b jets (80, 60), not the 200 GeV light jet
    assert f.columns["dr_bb"][0] == pytest.approx(np.hypot(1.0, 0.5), rel=1e-9)


def test_collins_soper_angles() -> None:
    # pair at rest, l- along +z: cos = +1; along +x: cos = 0, phi = 0 or pi
    m = 45.0
    lm = np.array([[m, 0, 0, m], [m, m, 0, 0]])
    lp = np.array([[m, 0, 0, -m], [m, -m, 0, 0]])
    cos, phi = collins_soper(lm, lp)
    assert cos[0] == pytest.approx(1.0)
    assert cos[1] == pytest.approx(0.0, abs=1e-12)
    assert abs(abs(phi[1]) - np.pi) < 1e-9 or abs(phi[1]) < 1e-9
    # boost-invariance along z: the same decay boosted longitudinally keeps cos
    from hep_aa.features.higgs import boost

    beta = np.array([[0.0, 0.0, 0.6], [0.0, 0.0, 0.6]])
    cos_b, _ = collins_soper(boost(lm, beta), boost(lp, beta))
    np.testing.assert_allclose(cos_b, cos, atol=1e-12)


def _prt(pid, status, mother, p):  # type: ignore[no-untyped-def]
    """An LHE particle record; ``p`` = (px, py, pz, m)."""
    px, py, pz, m = p
    e = float(np.sqrt(px * px + py * py + pz * pz + m * m))
    return {"id": pid, "status": status, "mother1": mother, "px": px, "py": py, "pz": pz, "e": e}


def _sum(*ps):  # type: ignore[no-untyped-def]
    out = np.zeros(4)
    for p in ps:
        out += [p["e"], p["px"], p["py"], p["pz"]]
    return out


def test_hard_process_wh_without_w_line_and_gluon_fusion_h_to_zz() -> None:
    from hep_aa.features.higgs import HIGGS_GROUPS, collins_soper, hard_process_features

    # event 1: u d~ -> h l+ nu (the W is not written, as MadGraph does for p p > h l+ vl)
    lp = _prt(-11, 1, 1, (40.0, 10.0, 30.0, 0.0))
    nu = _prt(12, 1, 1, (-5.0, 35.0, -60.0, 0.0))
    h = _prt(25, 1, 1, (-35.0, -45.0, 80.0, 125.0))
    wh = [_prt(2, -1, 0, (0, 0, 300.0, 0)), _prt(-1, -1, 0, (0, 0, -200.0, 0)), h, lp, nu]
    # event 2: same h, leptons from a written W+ (status 2) whose daughters are lines 5-6
    w = _prt(24, 2, 1, (35.0, 45.0, -30.0, 80.4))
    w_lines = [_prt(2, -1, 0, (0, 0, 300.0, 0)), _prt(-1, -1, 0, (0, 0, -200.0, 0)), h, w, lp, nu]
    for line in w_lines[4:]:
        line["mother1"] = 4
    f = hard_process_features(ak.Array([wh, w_lines]))
    assert f.groups == ("h", "v", "vh", "v_decay")
    assert f.names == [c for g in f.groups for c in HIGGS_GROUPS[g]]
    v = _sum(lp, nu)
    np.testing.assert_allclose(f.columns["pt_v"][0], np.hypot(v[1], v[2]))
    np.testing.assert_allclose(f.columns["pt_v"][1], np.hypot(35.0, 45.0))  # the written W line
    vh = v + _sum(h)
    np.testing.assert_allclose(f.columns["m_vh"][0], np.sqrt(vh[0] ** 2 - (vh[1:] ** 2).sum()))
    np.testing.assert_allclose(f.columns["y_h"][0], 0.5 * np.log((h["e"] + 80.0) / (h["e"] - 80.0)))
    # Collins-Soper angles of the fermion (the neutrino, PDG > 0) against the antifermion
    cos, phi = collins_soper(np.array([_sum(nu)]), np.array([_sum(lp)]))
    np.testing.assert_allclose([f.columns["cos_theta_cs"][0], f.columns["phi_cs"][0]], [cos[0], phi[0]])

    # gluon fusion, h -> Z Z* -> 4l, plus two jets: the Zs of the h decay are not a V
    gg = [_prt(21, -1, 0, (0, 0, 500.0, 0)), _prt(21, -1, 0, (0, 0, -400.0, 0))]
    h2 = _prt(25, 2, 1, (0.0, -20.0, 30.0, 125.0))
    z1, z2 = _prt(23, 2, 3, (10.0, 0.0, 20.0, 91.0)), _prt(23, 2, 3, (-10.0, -20.0, 10.0, 30.0))
    leps = [
        _prt(s * 13, 1, 4 if i < 2 else 5, (5.0 * s, 1.0, 2.0, 0.0)) for i, s in enumerate((1, -1, 1, -1))
    ]
    j1, j2 = _prt(21, 1, 1, (100.0, 0.0, 400.0, 0.0)), _prt(1, 1, 1, (-50.0, 0.0, -300.0, 0.0))
    j3 = _prt(21, 1, 1, (0.0, 20.0, 10.0, 0.0))  # softest: not a tag jet
    f2 = hard_process_features(ak.Array([[*gg, h2, z1, z2, *leps, j3, j1, j2]]))
    assert f2.groups == ("h", "jj")
    assert f2.counts["v"] == 0
    jj = _sum(j1, j2)
    np.testing.assert_allclose(f2.columns["m_jj"], np.sqrt(jj[0] ** 2 - (jj[1:] ** 2).sum()))
    eta1, eta2 = np.arcsinh(400.0 / 100.0), np.arcsinh(-300.0 / 50.0)
    np.testing.assert_allclose(f2.columns["delta_eta_jj"], eta1 - eta2)
    # signed: phi(forward jet j1 = 0) - phi(backward jet j2 = pi) wrapped into (-pi, pi]
    np.testing.assert_allclose(abs(f2.columns["delta_phi_jj"]), np.pi)


def test_hard_process_groups_need_every_event() -> None:
    from hep_aa.features.higgs import hard_process_features

    inc = [_prt(21, -1, 0, (0, 0, 500.0, 0)), _prt(21, -1, 0, (0, 0, -400.0, 0))]
    h = _prt(25, 1, 1, (0.0, -20.0, 30.0, 125.0))
    jets = [_prt(21, 1, 1, (100.0, 0.0, 400.0, 0.0)), _prt(1, 1, 1, (-50.0, 0.0, -300.0, 0.0))]
    f = hard_process_features(ak.Array([[*inc, h, *jets], [*inc, h, jets[0]]]))
    assert f.groups == ("h",)  # the second event has one extra parton only
    assert f.counts == {"h": 2, "jj": 1, "v": 0, "vh": 0, "v_decay": 0}
    assert f.matrix().shape == (2, 2)
    assert np.all(np.isfinite(f.matrix()))
