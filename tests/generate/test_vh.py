from __future__ import annotations

import warnings
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from hep_aa.cli import main
from hep_aa.exceptions import ConfigError
from hep_aa.generate.smeft import PARAMETERS, me_squared, morph
from hep_aa.generate.vh import generate_vh, parse_point
from hep_aa.io.artifacts import read_table

POINT = {"dgzh_uL": 0.001, "dgzh_dL": -0.001}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("vh") / "vh.root"
    generate_vh(path, 40, seed=4, points={"anom": POINT}, batch_size=100)
    return path


def test_nanoaod_layout_and_weights(small: Path) -> None:
    with uproot.open(small) as f:
        tree = f["Events"]
        assert tree.classname == "TTree"
        assert tree.num_entries == 40
        keys = set(tree.keys())
        for branch in (
            "run",
            "luminosityBlock",
            "event",
            "nJet",
            "Jet_btagDeepFlavB",
            "nMuon",
            "Electron_charge",
            "MET_pt",
            "GenZ_pt",
            "SMEFTweight_anom",
        ):
            assert branch in keys, branch
        n_par = len(PARAMETERS)
        assert sum(k.startswith("SMEFT_lin_") for k in keys) == n_par
        assert sum(k.startswith("SMEFT_quad_") for k in keys) == n_par * (n_par + 1) // 2
        assert "GenW_pt" not in keys
        arrays = tree.arrays(library="np")
    comps = {k[len("SMEFT_") :]: v for k, v in arrays.items() if k.startswith("SMEFT_")}
    np.testing.assert_allclose(morph(comps, POINT), arrays["SMEFTweight_anom"], rtol=1e-12)
    assert np.all(arrays["SMEFT_sm"] == 1.0)
    np.testing.assert_allclose(arrays["GenZ_mass"].mean(), 91.2, atol=5.0)


def test_readable_with_coffea_nanoaod_schema(small: Path) -> None:
    from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

    with warnings.catch_warnings():
        # coffea warns about cross-reference indices (Jet_muonIdx1 ...) a minimal file lacks
        warnings.filterwarnings("ignore", message="Missing cross-reference index", category=RuntimeWarning)
        events = NanoEventsFactory.from_root(
            {str(small): "Events"}, schemaclass=NanoAODSchema, mode="eager"
        ).events()
    assert len(events) == 40
    assert "btagDeepFlavB" in events.Jet.fields
    assert float(events.MET.pt[0]) >= 0.0


def test_same_seed_same_file_and_weights_match_direct_me(tmp_path: Path, small: Path) -> None:
    again = tmp_path / "again.root"
    generate_vh(again, 40, seed=4, points={"anom": POINT}, batch_size=100)
    with uproot.open(small) as a, uproot.open(again) as b:
        np.testing.assert_array_equal(
            a["Events"]["Jet_pt"].array(library="np")[5], b["Events"]["Jet_pt"].array(library="np")[5]
        )
        np.testing.assert_array_equal(
            a["Events"]["SMEFTweight_anom"].array(library="np"),
            b["Events"]["SMEFTweight_anom"].array(library="np"),
        )


def test_unweighted_smeft_sample(tmp_path: Path) -> None:
    path = tmp_path / "smeft.root"
    res = generate_vh(
        path, 30, seed=9, points={"anom": {"dgzh_uL": 0.01}}, unweight_to="anom", batch_size=100
    )
    assert res.n_written == 30
    assert res.n_generated > 30  # accept-reject discards events
    assert res.w_max is not None


@pytest.mark.slow
def test_smeft_pt_z_deviates_at_high_pt_only(tmp_path: Path) -> None:
    """SM vs the default SMEFT point on the same events (exact reweighting): the bulk agrees
    within statistics, the high-pT(Z) tail is enhanced (measured, seed 1, 1000 events:
    mean weight 1.04 below 100 GeV, 1.60 above 300 GeV)."""
    path = tmp_path / "vh.root"
    generate_vh(path, 1000, seed=1, points={"anom": POINT})
    with uproot.open(path) as f:
        a = f["Events"].arrays(["GenZ_pt", "SMEFTweight_anom"], library="np")
    pt, w = a["GenZ_pt"], a["SMEFTweight_anom"]
    bulk, tail = pt < 100, pt > 250
    n_bulk = bulk.sum()
    assert abs(w[bulk].sum() - n_bulk) < 2.0 * np.sqrt(n_bulk)  # within 2 sigma of the SM count
    assert w[tail].mean() > 1.3
    assert w[tail].mean() > w[bulk].mean() + 0.2


def test_parse_point_and_errors() -> None:
    assert parse_point("a=0,0,0,0.01") == ("a", {"dcz": 0.0, "czz": 0.0, "czbox": 0.0, "dgzh_uL": 0.01})
    assert parse_point("b=czz:0.5") == ("b", {"czz": 0.5})
    too_many = "a=" + ",".join(["1"] * (len(PARAMETERS) + 1))
    for bad in ("nope", "a=x:1", too_many, "a=1,zz", "1a=1", "a=", "a=czz:nan"):
        with pytest.raises(ConfigError, match="--point"):
            parse_point(bad)
    with pytest.raises(ConfigError, match="unweight point"):
        generate_vh("/tmp/never.root", 1, 1, unweight_to="missing")


def test_direct_me_equals_stored_components_for_all_parameters() -> None:
    rng = np.random.default_rng(3)
    e = 300.0
    p_q, p_qbar = np.array([[e, 0, 0, e]]), np.array([[e, 0, 0, -e]])
    p_lm = np.array([[120.0, 60.0, 80.0, 72.0]])
    p_lm[0, 0] = np.linalg.norm(p_lm[0, 1:])
    p_lp = np.array([[0.0, -10.0, 20.0, -30.0]])
    p_lp[0, 0] = np.linalg.norm(p_lp[0, 1:])
    from hep_aa.generate.smeft import me_components

    comps = me_components(p_q, p_qbar, p_lm, p_lp, np.array([2]))
    point = {p: float(rng.normal(0, 0.05)) for p in PARAMETERS}
    np.testing.assert_allclose(
        morph(comps, point), me_squared(p_q, p_qbar, p_lm, p_lp, np.array([2]), point), rtol=1e-10
    )


def test_cli_generate_and_features(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "v.root"
    args = [
        "generate",
        "vh",
        "--n-events",
        "60",
        "--seed",
        "2",
        "--point",
        "anom=dgzh_uL:0.001",
        "-o",
        str(out),
    ]
    assert main(args) == 0
    table = tmp_path / "v.parquet"
    assert main(["features", "vh", str(out), "--weight", "SMEFTweight_anom", "-o", str(table)]) == 0
    t = read_table(table)
    assert t.feature_names[0] == "pt_z"
    # two leptons, two b-tagged jets: the CMS card's b efficiency (about 0.6 per jet) leaves
    # roughly one event in seven
    assert len(t) >= 4
    assert np.all(t.spectators["weight"] > 0)
    assert np.all(np.abs(t.features[:, t.feature_names.index("cos_theta_cs")]) <= 1.0)


def test_detector_cms_vs_truth(tmp_path: Path) -> None:
    """The same Pythia events, reconstructed with the CMS-card detector and as truth."""
    files = {d: tmp_path / f"{d}.root" for d in ("cms", "none")}
    for det, path in files.items():
        generate_vh(path, 150, seed=12, detector=det, batch_size=150)
    arrays = {}
    for det, path in files.items():
        with uproot.open(path) as f:
            arrays[det] = f["Events"].arrays(
                [
                    "Jet_pt",
                    "Jet_eta",
                    "Jet_hadronFlavour",
                    "Jet_btagDeepFlavB",
                    "Muon_pt",
                    "Electron_pt",
                    "MET_pt",
                ]
            )
    cms, truth = arrays["cms"], arrays["none"]
    flav = ak.flatten(cms.Jet_hadronFlavour)
    tag = ak.flatten(cms.Jet_btagDeepFlavB) > 0.5
    pt = ak.flatten(cms.Jet_pt)
    central = abs(ak.flatten(cms.Jet_eta)) < 2.5
    # b jets: the card's pT-dependent efficiency, averaged over these jets
    b = central & (flav == 5)
    expected = np.mean(0.85 * np.tanh(0.0025 * pt[b]) * 25.0 / (1 + 0.063 * pt[b]))
    n_b = int(ak.sum(b))
    assert n_b > 100
    assert float(ak.mean(tag[b])) == pytest.approx(expected, abs=4 * np.sqrt(expected * (1 - expected) / n_b))
    assert float(ak.mean(tag[central & (flav == 0)])) < 0.05  # light mistag 1-2 %
    assert not ak.any(tag[~central])  # no b tagging outside the tracker
    # ghost association tags every truth b jet; the detector fewer
    assert ak.mean(ak.flatten(truth.Jet_btagDeepFlavB)[ak.flatten(truth.Jet_hadronFlavour) == 5]) == 1.0
    # leptons: efficiencies below one, never more leptons than at truth level. Muons: tracking
    # 0.99 x identification 0.95 x isolation; electrons lose more (0.95 x 0.95 in the barrel,
    # 0.83 x 0.85 in the endcaps, and the card's wider isolation cone, dR 0.5, ratio < 0.12)
    mu = ak.sum(ak.num(cms.Muon_pt)) / ak.sum(ak.num(truth.Muon_pt))
    el = ak.sum(ak.num(cms.Electron_pt)) / ak.sum(ak.num(truth.Electron_pt))
    assert 0.8 < mu < 1.0
    assert 0.5 < el < mu
    # MET: detector resolution on top of the neutrinos of b decays
    assert np.median(cms.MET_pt) > np.median(truth.MET_pt)
    with pytest.raises(ConfigError, match="unknown detector"):
        generate_vh(tmp_path / "x.root", 1, 1, detector="atlas")
