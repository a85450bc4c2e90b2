from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from hep_aa.exceptions import DataFormatError
from hep_aa.features.higgs import vh_features
from hep_aa.io.lhe import read_lhe, weight_names
from hep_aa.io.root import detect_layout, iter_root_events


def test_real_cms_nanoaod(shared_data: Path) -> None:
    path = shared_data / "root" / "nanoAOD_2015_CMS_Open_Data_ttbar.root"
    assert detect_layout(path) == "nanoaod"
    chunks = list(iter_root_events(path, step_size=64))
    assert [len(c) for c in chunks] == [64, 64, 64, 8]
    ev = chunks[0]
    assert set(ev.fields) == {"leptons", "jets", "weight"}
    # real NanoAOD: the ID level and PF isolation ride along for the object selection
    assert set(ev.leptons.fields) == {"pt", "eta", "phi", "mass", "charge", "pdgId", "id", "iso"}
    assert {"jet_id", "btag_score"} <= set(ev.jets.fields)
    assert ak.all(abs(ev.leptons.pdgId) % 2 == 1)
    feats = vh_features(ak.concatenate(chunks))
    assert feats.kept.shape == (200,)


def test_real_delphes_and_drell_yan(shared_data: Path) -> None:
    ev = next(iter_root_events(shared_data / "root" / "delphes.root"))
    assert len(ev) == 25
    assert ev.weight[0] > 0
    dy = next(iter_root_events(shared_data / "root" / "nano_dy.root"))
    assert len(dy) == 40
    pairs = dy.leptons[ak.num(dy.leptons) >= 2]
    assert len(pairs) > 0  # Drell-Yan: lepton pairs read from Electron_*/Muon_*
    assert ak.all(np.isfinite(ak.flatten(dy.leptons.pt)))
    assert ak.all(ak.flatten(dy.leptons.pt) > 0)
    feats = vh_features(dy)  # no h -> bb here: after jet-lepton cleaning few or no Zh candidates
    assert feats.kept.shape == (40,)
    assert np.all(np.isfinite(feats.columns["pt_z"]))


def test_real_lhe_with_named_weights(shared_data: Path) -> None:
    path = shared_data / "lhe" / "pylhe-testfile-madgraph-2.0.0-wbj.lhe"
    names = weight_names(path)
    assert names[:2] == ["1001", "1002"]
    ev = read_lhe(path, weight="1002")
    assert len(ev) == 59
    assert ev.weight[0] == pytest.approx(45.746)
    assert ak.all(ak.num(ev.jets) >= 2)
    with pytest.raises(DataFormatError, match="no weight named 'nope'"):
        read_lhe(path, weight="nope")


def test_lhe_gzip(tmp_path: Path, shared_data: Path) -> None:
    import gzip

    src = shared_data / "lhe" / "pylhe-testfile-pythia-8.3.14-weakbosons.lhe"
    gz = tmp_path / "w.lhe.gz"
    gz.write_bytes(gzip.compress(src.read_bytes()))
    assert len(read_lhe(gz)) == len(read_lhe(src)) == 100


def test_bad_inputs(tmp_path: Path) -> None:
    junk = tmp_path / "junk.root"
    junk.write_bytes(b"not a root file")
    with pytest.raises(DataFormatError, match="not a readable ROOT file"):
        next(iter_root_events(junk))
    import uproot

    other = tmp_path / "other.root"
    with uproot.recreate(other) as f:
        f.mktree("Other", {"x": np.float32}).extend({"x": np.zeros(2, np.float32)})
    with pytest.raises(DataFormatError, match="neither an 'Events'"):
        next(iter_root_events(other))
    partial = tmp_path / "partial.root"
    with uproot.recreate(partial) as f:
        f.mktree("Events", {"Jet_pt": np.float32}).extend({"Jet_pt": np.zeros(2, np.float32)})
    with pytest.raises(DataFormatError, match=r"b-tag branch|lacks branch"):
        next(iter_root_events(partial))
    bad_lhe = tmp_path / "bad.lhe"
    bad_lhe.write_text("<LesHouchesEvents><event>1 2 3</broken>")
    with pytest.raises(DataFormatError, match="not a readable LHE file"):
        read_lhe(bad_lhe)


def test_truncated_lhe_is_an_error_not_fewer_events(tmp_path: Path, shared_data: Path) -> None:
    """pylhe only warns on a truncated file and returns the events so far; that is an error here."""
    src = (shared_data / "lhe" / "pylhe-testfile-pythia-8.3.14-weakbosons.lhe").read_bytes()
    cut = tmp_path / "cut.lhe"
    cut.write_bytes(src[: int(0.3 * len(src))])
    with pytest.raises(DataFormatError, match=r"cut\.lhe: LHE file is truncated or malformed \(Parse Error"):
        read_lhe(cut)


def test_nan_and_negative_pt_in_root_name_the_branch(tmp_path: Path) -> None:
    import uproot

    counts = np.array([2, 2, 2])
    for name, value, what in (("nan", np.nan, "NaN/Inf"), ("neg", -30.0, "negative")):
        pt = np.full(6, 40.0, np.float32)
        pt[3] = value
        lep = ak.zip(
            {
                "pt": ak.unflatten(pt, counts),
                "eta": ak.unflatten(np.zeros(6, np.float32), counts),
                "phi": ak.unflatten(np.zeros(6, np.float32), counts),
                "mass": ak.unflatten(np.zeros(6, np.float32), counts),
                "charge": ak.unflatten(np.tile([1, -1], 3).astype(np.int32), counts),
            }
        )
        jet = ak.zip(
            {
                "pt": ak.unflatten(np.full(6, 50.0, np.float32), counts),
                "eta": ak.unflatten(np.zeros(6, np.float32), counts),
                "phi": ak.unflatten(np.zeros(6, np.float32), counts),
                "mass": ak.unflatten(np.zeros(6, np.float32), counts),
                "btagDeepFlavB": ak.unflatten(np.ones(6, np.float32), counts),
            }
        )
        data = {"Electron": lep, "Muon": lep, "Jet": jet}
        path = tmp_path / f"{name}.root"
        with uproot.recreate(path) as f:
            f.mktree("Events", {k: v.type for k, v in data.items()}).extend(data)
        with pytest.raises(
            DataFormatError, match=rf"{what} value\(s\) in branch 'Electron_pt'.*first at entry 1"
        ):
            next(iter_root_events(path))


def test_features_vh_weight_is_genweight_times_the_weight_branch(tmp_path: Path) -> None:
    """NanoAOD genWeight (negative allowed) x --weight branch lands in the table's weight column."""
    import uproot

    from hep_aa.cli import main
    from hep_aa.io.artifacts import read_table

    n = 4
    counts = np.full(n, 2)

    def col(values, dtype=np.float32):  # type: ignore[no-untyped-def]
        return ak.unflatten(np.tile(np.asarray(values, dtype), n), counts)

    electrons = ak.zip(
        {
            "pt": col([60.0, 45.0]),
            "eta": col([0.2, -0.4]),
            "phi": col([0.1, 2.6]),
            "mass": col([0.0, 0.0]),
            "charge": col([-1, 1], np.int32),
        }
    )
    muons = ak.zip({k: electrons[k][:, :0] for k in electrons.fields})
    jets = ak.zip(
        {
            "pt": col([80.0, 55.0]),
            "eta": col([0.5, -1.0]),
            "phi": col([-1.5, -2.4]),
            "mass": col([10.0, 8.0]),
            "btagDeepFlavB": col([0.9, 0.8]),
        }
    )
    gen = np.array([2.0, -1.0, 0.5, 1.0])
    ratio = np.array([1.5, 0.5, 2.0, 1.0])
    data = {
        "Electron": electrons,
        "Muon": muons,
        "Jet": jets,
        "genWeight": gen.astype(np.float32),
        "SMEFTweight_x": ratio.astype(np.float32),
    }
    path = tmp_path / "gen.root"
    with uproot.recreate(path) as f:
        f.mktree(
            "Events", {k: v.type if isinstance(v, ak.Array) else v.dtype for k, v in data.items()}
        ).extend(data)
    for extra, expected in (
        ([], gen),
        (["--weight", "SMEFTweight_x"], gen * ratio),
        (["--weight", "genWeight"], gen),
    ):
        out = tmp_path / f"vh{len(extra)}{extra[-1] if extra else ''}.parquet"
        assert main(["features", "vh", str(path), *extra, "-o", str(out)]) == 0
        t = read_table(out)
        np.testing.assert_allclose(t.spectators["weight"], expected)
