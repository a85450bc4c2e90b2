from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from hep_aa.exceptions import ConfigError
from hep_aa.features.higgs import vh_candidates
from hep_aa.features.selection import DEFAULT_SELECTION, ObjectSelection, select_objects


def _lep(pt, eta, phi, charge, pdg, lid=4, iso=0.05):  # type: ignore[no-untyped-def]
    return {
        "pt": pt,
        "eta": eta,
        "phi": phi,
        "mass": 0.0,
        "charge": charge,
        "pdgId": pdg,
        "id": lid,
        "iso": iso,
    }


def _jet(pt, eta, phi, score, jet_id=6):  # type: ignore[no-untyped-def]
    return {"pt": pt, "eta": eta, "phi": phi, "mass": 5.0, "btag": 0.0, "btag_score": score, "jet_id": jet_id}


EVENTS = ak.Array(
    [
        {
            "leptons": [
                _lep(50, 0.1, 0.0, -1, 13),
                _lep(45, -0.3, 2.9, 1, -13),
                _lep(40, 1.0, 1.0, 1, -13, lid=3),  # medium only: fails the tight muon ID
                _lep(30, 0.5, -1.0, 1, -13, iso=0.3),  # not isolated
                _lep(25, 2.45, 0.0, 1, -11),  # electron |eta| < 2.5 passes, a muon would not
            ],
            "jets": [
                _jet(100, 0.12, 0.05, 0.9),  # on top of the leading muon: cleaned away
                _jet(80, 0.5, -2.0, 0.30),  # DeepJet 2018 medium (0.2783) yes, 2017 medium (0.3040) no
                _jet(60, -0.5, -1.5, 0.80),
                _jet(50, 2.6, 1.0, 0.9),  # |eta| > 2.5
                _jet(40, 0.0, 2.0, 0.9, jet_id=0),  # fails the jet ID
                _jet(25, 0.0, -2.5, 0.9),  # below 30 GeV
            ],
            "weight": 1.5,
        }
    ]
)


def test_cms_defaults_on_a_hand_made_event() -> None:
    sel = select_objects(EVENTS)
    assert sel.leptons.pt.tolist() == [[50, 45, 25]]
    assert sel.jets.pt.tolist() == [[80, 60]]
    assert sel.jets.btag.tolist() == [[1.0, 1.0]]
    tight_2017 = select_objects(EVENTS, ObjectSelection(era="2017"))
    assert tight_2017.jets.btag.tolist() == [[0.0, 1.0]]
    no_cleaning = select_objects(EVENTS, ObjectSelection(jet_lepton_dr=0.0))
    assert no_cleaning.jets.pt.tolist() == [[100, 80, 60]]
    feats, steps = vh_candidates(EVENTS)
    assert [bool(s[0]) for s in steps.values()] == [True, True, True]
    assert feats.h_fallback.tolist() == [0]
    assert feats.weight.tolist() == [1.5]


def test_missing_quality_fields_are_not_applied() -> None:
    bare = ak.zip(
        {
            "leptons": ak.without_field(ak.without_field(EVENTS.leptons, "id"), "iso"),
            "jets": ak.without_field(ak.without_field(EVENTS.jets, "btag_score"), "jet_id"),
        },
        depth_limit=1,
    )
    sel = select_objects(bare)
    assert sel.leptons.pt.tolist() == [[50, 45, 40, 30, 25]]
    assert sel.jets.pt.tolist() == [[80, 60, 40]]  # no jet ID bits: the 40 GeV jet stays
    assert "lepton ID" not in DEFAULT_SELECTION.applied(bare)
    assert "lepton ID" in DEFAULT_SELECTION.applied(EVENTS)


def test_bad_working_points_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"selection\.btag"):
        ObjectSelection(btag="DeepJet:ultra")
    with pytest.raises(ConfigError, match=r"selection\.era"):
        ObjectSelection(era="2011")
    with pytest.raises(ConfigError, match=r"selection\.muon_id"):
        ObjectSelection(muon_id="super")


def test_dask_awkward_gives_the_same_features() -> None:
    dak = pytest.importorskip("dask_awkward")
    import dask

    many = ak.concatenate([EVENTS] * 7)
    eager, _ = vh_candidates(many)
    lazy, _ = vh_candidates(dak.from_awkward(many, npartitions=3))
    (computed,) = dask.compute(lazy)
    for field in eager.fields:
        np.testing.assert_array_equal(ak.to_numpy(computed[field]), ak.to_numpy(eager[field]))
