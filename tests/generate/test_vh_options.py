"""Named benchmark points, p̂_T-biased and sliced generation with exact weights, W h events."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import uproot

from hep_aa.cli import main
from hep_aa.exceptions import ConfigError
from hep_aa.generate.smeft import PARAMETERS, morph
from hep_aa.generate.vh import (
    BENCHMARK_POINTS,
    generate_vh,
    parse_point,
    partial_unweight,
    parton_sample,
    vh_settings,
)


def test_benchmark_points_are_documented_and_parse_by_name() -> None:
    assert {"contact_uL", "czbox", "czz", "contact_dR", "zpole_uLdL", "zpole_dR"} <= set(BENCHMARK_POINTS)
    for name, bench in BENCHMARK_POINTS.items():
        assert name.isidentifier()  # becomes the branch SMEFTweight_<name>
        assert set(bench.point) <= set(PARAMETERS)
        assert bench.operator
        assert bench.bounds
        # a point beyond current bounds says so
        assert bench.stress_test == ("stress-test" in bench.bounds)
        assert parse_point(name) == (name, dict(bench.point))
        assert 0.5 <= bench.parton_auroc[0] <= 1.0
    seen = BENCHMARK_POINTS["contact_uL"]
    assert max(seen.parton_auroc) >= 0.75
    assert set(seen.point).isdisjoint(BENCHMARK_POINTS["czbox"].point)  # a different direction
    # c = C v²/Λ²: δg = -0.03 is C ≈ -0.49 at Λ = 1 TeV, Λ/√|C| ≈ 1.42 TeV
    assert seen.wilson_1tev()["dgzh_uL"] == pytest.approx(-0.03 * (1000 / 246.22) ** 2, rel=1e-3)
    assert seen.lambda_equivalent_tev()["dgzh_uL"] == pytest.approx(0.24622 / np.sqrt(0.03), rel=1e-3)


def test_bad_point_names_are_one_line_config_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigError, match=r"not a benchmark point .*contact_uL"):
        parse_point("contact-uL")
    out = tmp_path / "never.root"
    code = main(["generate", "vh", "--n-events", "5", "--seed", "1", "--point", "nosuch", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert "nosuch" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()
    with pytest.raises(ConfigError, match="unknown process"):
        vh_settings(process="vbf")
    with pytest.raises(ConfigError, match="bias"):
        vh_settings(bias_pow=-1.0)


def test_partial_unweighting_is_exact() -> None:
    """E[accepted × weight] = w / w_max per event, whatever w_max (here below the maximum)."""
    rng = np.random.default_rng(5)
    x = rng.exponential(1.0, 400_000)
    w = np.exp(x)  # heavy tail, far above the threshold
    w_max = float(np.quantile(w, 0.9))
    keep, weight = partial_unweight(w, w_max, rng)
    assert np.all(weight[w <= w_max] == 1.0)
    target = np.sum(w * x) / np.sum(w)
    got = np.sum(weight[keep] * x[keep]) / np.sum(weight[keep])
    err = np.sqrt(np.sum((weight[keep] * (x[keep] - got)) ** 2)) / np.sum(weight[keep])
    assert got == pytest.approx(target, abs=4 * err)
    assert np.sum(weight[keep]) == pytest.approx(np.sum(w) / w_max, rel=0.01)
    with pytest.raises(ConfigError, match="non-negative"):
        partial_unweight(np.array([1.0, -1.0]), 1.0, rng)


def test_biased_weighted_parton_sample_agrees_with_unbiased() -> None:
    """Pythia's p̂_T bias with its exact weights reproduces the unbiased p_T(Z) spectrum and
    puts far more events into the tail (fixed seeds; tolerance 4 standard errors)."""
    n = 20_000
    plain = parton_sample(n, 11, with_smeft=False)
    biased = parton_sample(n, 12, bias_pow=2.0, bias_ref=100.0, with_smeft=False)
    assert np.all(plain["weight"] == 1.0)
    # the weight is exactly (p̂_T,ref / p̂_T)^pow (p̂_T = p_T(Z) without ISR)
    np.testing.assert_allclose(biased["weight"], (100.0 / biased["pt_v"]) ** 2, rtol=1e-6)

    def stats(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
        mean = np.average(x, weights=w)
        n_eff = w.sum() ** 2 / (w**2).sum()
        return float(mean), float(np.sqrt(np.average((x - mean) ** 2, weights=w) / n_eff))

    for f in (lambda pt: pt, lambda pt: (pt > 200).astype(float), lambda pt: (pt < 50).astype(float)):
        m0, e0 = stats(f(plain["pt_v"]), plain["weight"])
        m1, e1 = stats(f(biased["pt_v"]), biased["weight"])
        assert abs(m1 - m0) < 4 * np.hypot(e0, e1), (m0, e0, m1, e1)
    tail_plain, tail_biased = (plain["pt_v"] > 200).mean(), (biased["pt_v"] > 200).mean()
    assert tail_plain == pytest.approx(0.054, abs=0.01)
    assert tail_biased > 5 * tail_plain


def test_benchmark_point_reach_at_parton_level() -> None:
    """The seen point's exact likelihood ratio separates it from the SM (AUROC ≥ 0.75) in the
    boosted slice; the Z-pole-allowed point does not."""
    from sklearn.metrics import roc_auc_score

    sample = parton_sample(4000, 3, pthat_min=150.0)
    assert np.all(sample["pt_v"] >= 150.0 - 1e-6)

    def auroc(point: dict[str, float]) -> float:
        w = morph(sample["smeft"], point)
        y = np.r_[np.zeros(len(w)), np.ones(len(w))]
        return float(roc_auc_score(y, np.r_[w, w], sample_weight=np.r_[np.ones(len(w)), w]))

    assert auroc(BENCHMARK_POINTS["contact_uL"].point) > 0.85
    assert auroc(BENCHMARK_POINTS["czbox"].point) > 0.8
    assert auroc(BENCHMARK_POINTS["zpole_dR"].point) < 0.55


def test_biased_full_events_carry_exact_normalised_weights(tmp_path: Path) -> None:
    path = tmp_path / "biased.root"
    res = generate_vh(path, 150, seed=3, bias_pow=2.0, bias_ref=100.0, points={"cu": {"dgzh_uL": -0.03}})
    with uproot.open(path) as f:
        a = f["Events"].arrays(["genWeight", "GenZ_pt", "SMEFTweight_cu"], library="np")
    w, pt = a["genWeight"].astype(np.float64), a["GenZ_pt"].astype(np.float64)
    assert w.sum() == pytest.approx(150.0, rel=1e-5)  # normalised: mean 1
    # the bias weight is exactly ∝ (1/p̂_T)², p̂_T = p_T of the hard-process Z
    np.testing.assert_allclose(w * pt**2, np.mean(w * pt**2), rtol=1e-4)
    assert (pt > 200).mean() > 0.2  # unbiased: about 5 %
    assert res.n_effective < 150
    assert np.all(a["SMEFTweight_cu"] >= 0)


def test_pthat_slice_and_unweighting_on_top_of_bias(tmp_path: Path) -> None:
    sliced = tmp_path / "sliced.root"
    generate_vh(sliced, 40, seed=5, pthat_min=150.0, batch_size=100)
    with uproot.open(sliced) as f:
        a = f["Events"].arrays(["genWeight", "GenZ_pt"], library="np")
    assert np.all(a["GenZ_pt"] >= 149.99)
    assert np.all(a["genWeight"] == 1.0)
    anomaly = tmp_path / "anomaly.root"
    res = generate_vh(
        anomaly,
        30,
        seed=6,
        bias_pow=2.0,
        points={"czbox": BENCHMARK_POINTS["czbox"].point},
        unweight_to="czbox",
        batch_size=100,
    )
    assert res.n_generated > res.n_written
    with uproot.open(anomaly) as f:
        g = f["Events"]["genWeight"].array(library="np")
    assert np.all(g >= 1.0)  # unweighted, the rare events above w_max keep w/w_max
    # a low threshold keeps many more events; those above it carry their excess weight
    half = generate_vh(
        tmp_path / "half.root",
        30,
        seed=6,
        bias_pow=2.0,
        points={"czbox": BENCHMARK_POINTS["czbox"].point},
        unweight_to="czbox",
        unweight_quantile=0.5,
        batch_size=100,
    )
    assert half.n_generated <= res.n_generated
    with uproot.open(tmp_path / "half.root") as f:
        g = f["Events"]["genWeight"].array(library="np")
    assert np.all(g >= 1.0)
    assert np.any(g > 1.0)
    assert half.n_effective < 30
    with pytest.raises(ConfigError, match="unweight_quantile"):
        generate_vh(
            tmp_path / "x.root", 1, 1, points={"a": {"czz": 0.1}}, unweight_to="a", unweight_quantile=0
        )


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("wh") / "wh.root"
    generate_vh(path, 40, seed=8, process="wh", points={"cu": {"dgzh_uL": -0.03}}, batch_size=100)
    return path


def test_wh_layout_readable_with_coffea(wh: Path) -> None:
    from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

    with uproot.open(wh) as f:
        tree = f["Events"]
        keys = set(tree.keys())
        assert {"GenW_pt", "GenW_charge", "GenW_leptonPdgId", "MET_pt", "SMEFTweight_cu"} <= keys
        assert not any(k.startswith("GenZ_") for k in keys)
        a = tree.arrays(
            ["GenW_mass", "GenW_charge", "Generator_id1", "Generator_id2", "SMEFT_lin_dgzh_uR"], library="np"
        )
    np.testing.assert_allclose(np.median(a["GenW_mass"]), 80.4, atol=3.0)
    assert set(np.unique(a["GenW_charge"])) <= {-1, 1}
    # one up-type and one down-type quark, opposite signs
    up = np.isin(np.abs(a["Generator_id1"]), (2, 4)) ^ np.isin(np.abs(a["Generator_id2"]), (2, 4))
    assert np.all(up)
    assert np.all(a["Generator_id1"] * a["Generator_id2"] < 0)
    assert np.all(a["SMEFT_lin_dgzh_uR"] == 0.0)  # right-handed quarks do not couple to the W
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Missing cross-reference index", category=RuntimeWarning)
        events = NanoEventsFactory.from_root(
            {str(wh): "Events"}, schemaclass=NanoAODSchema, mode="eager"
        ).events()
    assert len(events) == 40
    assert "pt" in events.Electron.fields
    assert "pt" in events.Muon.fields
    assert "btagDeepFlavB" in events.Jet.fields
    assert float(events.MET.pt[0]) >= 0.0


def test_cli_named_points_wh_and_bias(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "wh.root"
    args = ["generate", "vh", "--process", "wh", "--n-events", "20", "--seed", "4", "--point", "czbox"]
    assert main([*args, "--pthat-min", "100", "-o", str(out)]) == 0
    assert "Wh events" in capsys.readouterr().out
    with uproot.open(out) as f:
        a = f["Events"].arrays(["GenW_pt", "SMEFTweight_czbox"], library="np")
    assert np.all(a["GenW_pt"] >= 99.99)
    assert np.all(a["SMEFTweight_czbox"] > 0)
    code = main(["generate", "vh", "--n-events", "5", "--seed", "1", "--bias-pow", "0", "-o", str(out)])
    assert code == 2
