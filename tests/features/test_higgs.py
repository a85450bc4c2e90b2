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
