"""MadGraph-style LHE files with named (SMEFT) weights: writer, reader, hypotheses, AA tables.

The fixture files are written here from real Pythia 8 events (hard-process record of
``HiggsSM:ffbar2HZ``, Z → ℓℓ, h → bb̄, and of VBF ``HiggsSM:ff2Hff(t:WW/ZZ)``, h → bb̄) by
:func:`hep_aa.io.lhe.write_lhe` in the layout MadGraph's reweighting module produces
(LHEF 3.0, ``<initrwgt><weightgroup name='mg_reweighting'>``, per-event ``<rwgt><wgt id>``).

- Z h: 20 weights from the exact LO matrix element of :mod:`hep_aa.generate.smeft`
  (|M(point)|² / |M(SM)|² × XWGTUP). They are *Higgs-basis* points (δc_z, c_zz, c_z□, δg^{Zh}),
  named in SMEFTsim's ``<coefficient>_<value>`` style (``czbox_0p1``, ``dgzh_uL_m0p01``); they
  are not SMEFTsim's Warsaw-basis coefficients.
- VBF: three weights from a simple kinematic reweighting, ``w = 1 + a cos 2Δφ_jj`` (CP-even
  shape) and ``w = 1 + a sin 2Δφ_jj`` (CP-odd-like asymmetry), standing in for anomalous hVV
  couplings. They are NOT a matrix-element reweighting; they only exercise the VBF features and
  the hypothesis machinery.

Run as a script to write the Z h file for the README example::

    python tests/io/test_lhe_hypotheses.py zh_smeft.lhe 20000
"""

from __future__ import annotations

import sys
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from hep_aa.exceptions import DataFormatError
from hep_aa.features.higgs import hard_process_features
from hep_aa.io.lhe import load_lhe, read_lhe, write_lhe

#: 20 Higgs-basis points (PARAMETERS of hep_aa.generate.smeft), SMEFTsim-style ids.
ZH_POINTS: dict[str, dict[str, float]] = {
    "SM": {},
    "dcz_0p1": {"dcz": 0.1},
    "dcz_m0p1": {"dcz": -0.1},
    "czz_0p2": {"czz": 0.2},
    "czz_m0p2": {"czz": -0.2},
    "czbox_0p05": {"czbox": 0.05},
    "czbox_m0p05": {"czbox": -0.05},
    "czbox_0p1": {"czbox": 0.1},
    "czbox_m0p1": {"czbox": -0.1},
    "dgzh_uL_0p01": {"dgzh_uL": 0.01},
    "dgzh_uL_m0p01": {"dgzh_uL": -0.01},
    "dgzh_uL_0p02": {"dgzh_uL": 0.02},
    "dgzh_uR_0p01": {"dgzh_uR": 0.01},
    "dgzh_uR_m0p01": {"dgzh_uR": -0.01},
    "dgzh_dL_0p01": {"dgzh_dL": 0.01},
    "dgzh_dL_m0p01": {"dgzh_dL": -0.01},
    "dgzh_dL_0p02": {"dgzh_dL": 0.02},
    "dgzh_dR_0p01": {"dgzh_dR": 0.01},
    "dgzh_dR_m0p01": {"dgzh_dR": -0.01},
    "dgzh_uLdL_0p01": {"dgzh_uL": 0.01, "dgzh_dL": 0.01},
}

VBF_WEIGHTS = {"SM": (0.0, 0.0), "cp_even_0p5": (0.5, 0.0), "cp_odd_0p5": (0.0, 0.5)}


def _pythia_hard_process(settings: list[str], n: int, seed: int) -> tuple[ak.Array, float]:
    """``n`` hard-process records of real Pythia 8 events in LHE conventions, and σ [pb].

    Pythia's process record: line 0 the system, 1-2 the beams, from 3 on the incoming partons
    (status −21), decayed resonances (−22) and outgoing particles (23); LHE lines are those
    from 3 on, mothers renumbered, beams dropped.
    """
    pythia8mc = pytest.importorskip("pythia8mc")
    pythia = pythia8mc.Pythia("", False)
    base = ["Print:quiet = on", "Beams:eCM = 13000", "PartonLevel:all = off", "HadronLevel:all = off"]
    for line in [*base, *settings, "Random:setSeed = on", f"Random:seed = {seed + 1}"]:
        assert pythia.readString(line), line
    assert pythia.init()
    status_map = {-21: -1, -22: 2, 23: 1}
    counts, rows = [], []
    while len(counts) < n:
        if not pythia.next():
            continue
        pr = pythia.process
        lines = range(3, pr.size())
        for i in lines:
            q = pr[i]
            m1, m2 = q.mother1(), q.mother2()
            rows.append(
                (
                    q.id(),
                    status_map[q.status()],
                    m1 - 2 if m1 >= 3 else 0,
                    m2 - 2 if m2 >= 3 else 0,
                    q.col(),
                    q.acol(),
                    q.px(),
                    q.py(),
                    q.pz(),
                    q.e(),
                    q.m(),
                )
            )
        counts.append(len(lines))
    table = np.array(rows, dtype=np.float64)
    names = ("id", "status", "mother1", "mother2", "color1", "color2", "px", "py", "pz", "e", "m")
    cols = {k: table[:, i].astype(np.int64) if i < 6 else table[:, i] for i, k in enumerate(names)}
    sigma_pb = float(pythia.infoPython().sigmaGen()) * 1e9
    return ak.unflatten(ak.zip(cols), np.asarray(counts)), sigma_pb


def _p4(prt: ak.Array, mask: ak.Array) -> np.ndarray:
    sel = ak.firsts(prt[mask])
    return np.column_stack([ak.to_numpy(sel[c]) for c in ("e", "px", "py", "pz")])


def zh_kinematics(prt: ak.Array) -> dict[str, np.ndarray]:
    """Incoming quark/antiquark, ℓ⁻, ℓ⁺ momenta and quark flavour of q q̄ → Z(ℓℓ) h records."""
    incoming = prt.status == -1
    lep = (prt.status == 1) & ((abs(prt.id) == 11) | (abs(prt.id) == 13))
    quark = ak.to_numpy(ak.firsts(prt.id[incoming & (prt.id > 0)]))
    return {
        "p_q": _p4(prt, incoming & (prt.id > 0)),
        "p_qbar": _p4(prt, incoming & (prt.id < 0)),
        "p_lm": _p4(prt, lep & (prt.id > 0)),
        "p_lp": _p4(prt, lep & (prt.id < 0)),
        "quark": quark,
    }


def make_zh_lhe(path: Path, n: int = 2000, seed: int = 1) -> Path:
    """q q̄ → Z(ℓℓ) h(bb̄) from Pythia 8 with the 20 matrix-element weights of :data:`ZH_POINTS`."""
    from hep_aa.generate.smeft import me_components, morph

    settings = [
        "HiggsSM:ffbar2HZ = on",
        "25:m0 = 125.0",
        "23:onMode = off",
        "23:onIfAny = 11 13",
        "25:onMode = off",
        "25:onIfMatch = 5 -5",
    ]
    prt, sigma = _pythia_hard_process(settings, n, seed)
    kin = zh_kinematics(prt)
    comps = me_components(kin["p_q"], kin["p_qbar"], kin["p_lm"], kin["p_lp"], kin["quark"])
    nominal = np.full(n, sigma / n)
    weights = {k: nominal * morph(comps, point) / comps["sm"] for k, point in ZH_POINTS.items()}
    info = {
        k: "Higgs basis (hep_aa.generate.smeft) "
        + (" ".join(f"{p} = {v:g}" for p, v in point.items()) if point else "SM")
        for k, point in ZH_POINTS.items()
    }
    return write_lhe(
        path,
        prt,
        nominal,
        weights=weights,
        weight_info=info,
        cross_section_pb=(sigma, sigma / np.sqrt(n)),
        note=[
            f"hep_aa test sample: Pythia 8 HiggsSM:ffbar2HZ hard process, seed {seed}",
            "weights: exact LO |M|^2 ratios of hep_aa.generate.smeft (Higgs basis), not SMEFTsim",
        ],
    )


def make_vbf_lhe(path: Path, n: int = 1000, seed: int = 2) -> Path:
    """VBF h(bb̄) from Pythia 8 with the kinematic (NOT matrix-element) weights of the module docstring."""
    settings = [
        "HiggsSM:ff2Hff(t:WW) = on",
        "HiggsSM:ff2Hff(t:ZZ) = on",
        "25:m0 = 125.0",
        "25:onMode = off",
        "25:onIfMatch = 5 -5",
    ]
    prt, sigma = _pythia_hard_process(settings, n, seed)
    jets = prt[(prt.status == 1) & (prt.mother1 != 3)]  # the h is line 3; its b quarks have mother 3
    eta = np.arcsinh(jets.pz / np.hypot(jets.px, jets.py))
    phi = np.arctan2(jets.py, jets.px)
    fwd = ak.to_numpy(eta[:, 0] >= eta[:, 1])
    phi0, phi1 = ak.to_numpy(phi[:, 0]), ak.to_numpy(phi[:, 1])
    dphi = np.where(fwd, phi0 - phi1, phi1 - phi0)
    nominal = np.full(n, sigma / n)
    weights = {
        k: nominal * (1 + a * np.cos(2 * dphi) + b * np.sin(2 * dphi)) for k, (a, b) in VBF_WEIGHTS.items()
    }
    return write_lhe(
        path, prt, nominal, weights=weights, weight_info=dict.fromkeys(weights, "kinematic toy weight")
    )


@pytest.fixture(scope="session")
def zh_lhe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_zh_lhe(tmp_path_factory.mktemp("lhe") / "zh_smeft.lhe", 2000)


@pytest.fixture(scope="session")
def vbf_lhe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_vbf_lhe(tmp_path_factory.mktemp("lhe") / "vbf.lhe.gz", 600)


def _cli(*args: object) -> int:
    from hep_aa.cli import main

    return main([str(a) for a in args])


def test_written_file_is_madgraph_layout_and_reads_back(zh_lhe: Path) -> None:
    text = zh_lhe.read_text()
    assert text.startswith('<LesHouchesEvents version="3.0">')
    assert "<weightgroup name='mg_reweighting'" in text
    assert text.count("<weight id=") == 20
    assert text.count("<wgt id=") == 20 * 2000
    ev = load_lhe(zh_lhe)
    assert len(ev) == 2000
    assert list(ev.weights) == list(ZH_POINTS)
    assert ev.weight_groups == {"mg_reweighting": list(ZH_POINTS)}
    assert ev.weight_info["czbox_0p1"] == "Higgs basis (hep_aa.generate.smeft) czbox = 0.1"
    assert ev.sqrt_s == 13000.0
    # the SM weight is the nominal one; every event: 2 incoming, h, Z, b b̄, ℓℓ
    np.testing.assert_allclose(ev.weights["SM"], ev.weight, rtol=1e-8)
    np.testing.assert_array_equal(ak.to_numpy(ak.num(ev.particles)), 8)
    assert ak.all(ak.sum(ev.particles.id == 25, axis=1) == 1)


def test_weights_are_the_matrix_element_ratio_on_the_momenta_read_back(zh_lhe: Path) -> None:
    """Writer + reader + morphing against a direct |M|² evaluation at the point."""
    from hep_aa.generate.smeft import me_squared

    ev = load_lhe(zh_lhe)
    kin = zh_kinematics(ev.particles)
    sm = me_squared(**kin)
    for name in ("czz_0p2", "dgzh_uL_0p02", "dgzh_uLdL_0p01"):
        direct = me_squared(**kin, point=ZH_POINTS[name]) / sm * ev.weight
        np.testing.assert_allclose(ev.weights[name], direct, rtol=1e-6)
    # δc_z only rescales: (1 + δc_z)² everywhere
    np.testing.assert_allclose(ev.weights["dcz_0p1"] / ev.weight, 1.1**2, rtol=1e-6)


def test_features_higgs_table_has_one_weight_column_per_hypothesis(zh_lhe: Path, tmp_path: Path) -> None:
    from hep_aa.io.artifacts import read_table

    out = tmp_path / "zh.parquet"
    assert _cli("features", "higgs", zh_lhe, "-o", out) == 0
    t = read_table(out)
    assert t.feature_names == (
        "pt_h",
        "y_h",
        "pt_v",
        "y_v",
        "m_vh",
        "pt_vh",
        "dphi_vh",
        "cos_theta_cs",
        "phi_cs",
        "dr_ff",
    )
    assert set(t.spectators) == {"weight", "event_index", *(f"weight_{k}" for k in ZH_POINTS)}
    assert np.all(t.labels == 0)
    assert len(t.features) == 2000
    assert t.metadata["feature_groups"] == ["h", "v", "vh", "v_decay"]
    assert t.metadata["weight_ids"] == list(ZH_POINTS)
    ev = load_lhe(zh_lhe)
    np.testing.assert_array_equal(t.spectators["weight_czz_0p2"], ev.weights["czz_0p2"])
    # parton level: m(Vh) is the partonic √ŝ (no ISR in the hard process)
    p = ev.particles[ev.particles.status == -1]
    e, pz = ak.to_numpy(ak.sum(p.e, axis=1)), ak.to_numpy(ak.sum(p.pz, axis=1))
    np.testing.assert_allclose(t.features[:, 4], np.sqrt(e**2 - pz**2), rtol=1e-6)
    # the contact term grows with ŝ: its weight ratio rises with m_Vh
    ratio = t.spectators["weight_dgzh_uL_0p02"] / t.spectators["weight"]
    high = t.features[:, 4] > np.quantile(t.features[:, 4], 0.8)
    assert ratio[high].mean() > ratio[~high].mean() + 0.05


def test_aa_table_by_weight_name_weighted(zh_lhe: Path, tmp_path: Path) -> None:
    from hep_aa.io.artifacts import read_table

    out = tmp_path / "aa.parquet"
    args = ["features", "higgs", zh_lhe, "--background", "SM", "--known", "dgzh_uL_0p02"]
    assert _cli(*args, "--unseen", "czbox_0p1", "--seed", "3", "-o", out) == 0
    t = read_table(out)
    ev = load_lhe(zh_lhe)
    idx = t.spectators["event_index"]
    assert len(np.unique(idx)) == len(idx) == 2000  # disjoint parts covering the file
    types = t.types.astype(str)
    assert sorted(set(types)) == ["background", "czbox_0p1", "dgzh_uL_0p02"]
    assert (types == "background").sum() == 1000
    assert (types == "czbox_0p1").sum() == 500
    np.testing.assert_array_equal(t.labels, (types != "background").astype(int))
    for kind, wid, share in (("background", "SM", 0.5), ("dgzh_uL_0p02", "dgzh_uL_0p02", 0.25)):
        sel = types == kind
        np.testing.assert_allclose(t.spectators["weight"][sel], ev.weights[wid][idx[sel]] / share)
    assert t.metadata["hypotheses"] == {
        "background": "SM",
        "known": ["dgzh_uL_0p02"],
        "unseen": ["czbox_0p1"],
    }
    # same seed, same table
    again = tmp_path / "again.parquet"
    assert _cli(*args, "--unseen", "czbox_0p1", "--seed", "3", "-o", again) == 0
    np.testing.assert_array_equal(read_table(again).spectators["event_index"], idx)


def test_aa_table_unweighted_follows_the_hypothesis(zh_lhe: Path, tmp_path: Path) -> None:
    from hep_aa.io.artifacts import read_table

    out = tmp_path / "unw.parquet"
    assert (
        _cli(
            "features",
            "higgs",
            zh_lhe,
            "--known",
            "dgzh_uL_0p02",
            "--unseen",
            "czz_m0p2",
            "--unweight",
            "-o",
            out,
        )
        == 0
    )
    t = read_table(out)
    assert np.all(t.spectators["weight"] == 1.0)
    parts = t.metadata["parts"]
    assert parts["background"]["weight"] == "XWGTUP"
    assert parts["background"]["efficiency"] == 1.0
    assert 0 < parts["dgzh_uL_0p02"]["efficiency"] < 1
    # accept-reject keeps the shape of the hypothesis: the known part's m_Vh is harder
    m = t.features[:, 4]
    types = t.types.astype(str)
    assert np.median(m[types == "dgzh_uL_0p02"]) > np.median(m[types == "background"])
    # partial unweighting against the 90 % quantile of |w|: more events, overweight ones keep |w|/w_cap
    part = tmp_path / "part.parquet"
    args = ["--known", "dgzh_uL_0p02", "--unweight", "--max-weight-quantile", "0.9", "-o", part]
    assert _cli("features", "higgs", zh_lhe, *args) == 0
    p = read_table(part)
    info = p.metadata["parts"]["dgzh_uL_0p02"]
    assert info["efficiency"] > 2 * parts["dgzh_uL_0p02"]["efficiency"]
    assert info["n_overweight"] > 0
    assert np.all(p.spectators["weight"] >= 1.0)
    # unbiased: the weighted mean m_Vh of the kept events matches the weighted hypothesis
    ev = load_lhe(zh_lhe)
    sel = p.types.astype(str) == "dgzh_uL_0p02"
    w_all = ev.weights["dgzh_uL_0p02"]
    m_all = hard_process_features(ev.particles).columns["m_vh"]
    expected = np.average(m_all, weights=w_all)
    assert np.average(p.features[sel, 4], weights=p.spectators["weight"][sel]) == pytest.approx(
        expected, rel=0.1
    )


def test_negative_weights_are_kept(zh_lhe: Path, tmp_path: Path) -> None:
    """NLO-like file: a quarter of the events carry negative weights in every hypothesis."""
    from hep_aa.io.artifacts import read_table

    ev = load_lhe(zh_lhe)
    sign = np.where(np.arange(len(ev)) % 4 == 0, -1.0, 1.0)
    neg = write_lhe(
        tmp_path / "nlo.lhe",
        ev.particles,
        sign * ev.weight,
        weights={k: sign * v for k, v in ev.weights.items()},
        weighting_strategy=-4,
    )
    for extra, check in (([], lambda w: set(np.unique(np.sign(w))) == {-1.0, 1.0}), (["--unweight"], None)):
        out = tmp_path / f"neg{len(extra)}.parquet"
        assert _cli("features", "higgs", neg, "--known", "czz_0p2", *extra, "-o", out) == 0
        w = read_table(out).spectators["weight"]
        assert set(np.unique(w if check is None else np.sign(w))) == {-1.0, 1.0}
        idx = read_table(out).spectators["event_index"]
        np.testing.assert_array_equal(np.sign(w), sign[idx])


def test_unknown_weight_id_is_one_line_listing_the_ids(
    zh_lhe: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert _cli("features", "higgs", zh_lhe, "--known", "cHW_0p2", "-o", tmp_path / "x.parquet") == 2
    line = capsys.readouterr().err.strip()
    assert "\n" not in line
    assert "no weight named 'cHW_0p2'" in line
    assert "available: XWGTUP (the event weight), SM, dcz_0p1, " in line
    assert not (tmp_path / "x.parquet").exists()
    assert _cli("features", "higgs", zh_lhe, "--known", "SM", "--background", "SM", "-o", tmp_path / "y") == 2
    assert "more than one hypothesis" in capsys.readouterr().err
    assert _cli("features", "higgs", zh_lhe, "--unseen", "SM", "-o", tmp_path / "z.parquet") == 2
    assert "give --known" in capsys.readouterr().err


def test_vbf_file_gives_tag_jet_features(vbf_lhe: Path, tmp_path: Path) -> None:
    from hep_aa.io.artifacts import read_table

    out = tmp_path / "vbf.parquet"
    assert _cli("features", "higgs", vbf_lhe, "--known", "cp_odd_0p5", "--unweight", "-o", out) == 0
    t = read_table(out)
    assert t.feature_names == ("pt_h", "y_h", "m_jj", "delta_eta_jj", "delta_phi_jj")
    assert t.metadata["feature_groups"] == ["h", "jj"]
    dphi = t.features[:, 4]
    types = t.types.astype(str)
    assert np.all(np.abs(dphi) <= np.pi)
    # VBF: wide rapidity gap and large dijet mass
    assert np.median(t.features[:, 3]) > 2.5
    assert np.median(t.features[:, 2]) > 500
    # the CP-odd-like weight makes sin 2Δφ_jj positive on average, the SM part does not
    assert np.mean(np.sin(2 * dphi[types == "cp_odd_0p5"])) > 0.1
    assert abs(np.mean(np.sin(2 * dphi[types == "background"]))) < 0.1


def test_real_madgraph_file_weights_become_hypotheses(shared_data: Path, tmp_path: Path) -> None:
    """The real MadGraph 2.0 W b j file: its 9 scale-variation <wgt> ids are hypotheses."""
    from hep_aa.io.artifacts import read_table

    path = shared_data / "lhe" / "pylhe-testfile-madgraph-2.0.0-wbj.lhe"
    out = tmp_path / "wbj.parquet"
    assert _cli("features", "higgs", path, "-o", out) == 0
    t = read_table(out)
    ids = [str(i) for i in range(1001, 1010)]
    assert t.metadata["weight_ids"] == ids
    assert t.metadata["weight_groups"] == {"scale_variation": ids}
    assert {f"weight_{i}" for i in ids} <= set(t.spectators)
    # no Higgs boson here: the W (undecayed) and the two hard partons
    assert t.metadata["feature_groups"] == ["jj", "v"]
    assert t.spectators["weight_1002"][0] == pytest.approx(45.746)
    aa = tmp_path / "wbj_aa.parquet"
    assert (
        _cli(
            "features", "higgs", path, "--background", "1001", "--known", "1005", "--unseen", "1009", "-o", aa
        )
        == 0
    )
    assert sorted(set(read_table(aa).types.astype(str))) == ["1005", "1009", "background"]


def test_reader_errors(zh_lhe: Path, tmp_path: Path) -> None:
    text = zh_lhe.read_text()
    first = text.index("<wgt id='SM'>")
    dropped = tmp_path / "dropped.lhe"
    dropped.write_text(text[:first] + text[text.index("</wgt>", first) + len("</wgt>") :])
    with pytest.raises(DataFormatError, match=r"event 0 has named weights that differ.*missing \['SM'\]"):
        load_lhe(dropped)
    nan = tmp_path / "nan.lhe"
    nan.write_text(text.replace(text[first : text.index("</wgt>", first)], "<wgt id='SM'> nan ", 1))
    with pytest.raises(DataFormatError, match="NaN/Inf in the weight 'SM' of event"):
        load_lhe(nan)
    with pytest.raises(DataFormatError, match="no weight named 'x'"):
        read_lhe(zh_lhe, weight="x")
    with pytest.raises(ValueError, match="weight ids"):
        write_lhe(
            tmp_path / "bad.lhe", load_lhe(zh_lhe).particles[:2], np.ones(2), weights={"a b": np.ones(2)}
        )
    assert not (tmp_path / "bad.lhe").exists()


if __name__ == "__main__":  # python tests/io/test_lhe_hypotheses.py OUT.lhe [N] [SEED]
    out = make_zh_lhe(
        Path(sys.argv[1]),
        int(sys.argv[2]) if len(sys.argv) > 2 else 2000,
        int(sys.argv[3]) if len(sys.argv) > 3 else 1,
    )
    sys.stdout.write(f"{out}: {load_lhe(out).weight.size} events, {len(ZH_POINTS)} named weights\n")
