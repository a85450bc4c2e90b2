from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hep_aa.features import registry as R
from hep_aa.features.higgs import VH_FEATURES
from hep_aa.features.images import SYNTHETIC_KINDS
from hep_aa.features.jets import FEATURE_SETS, UNITS
from hep_aa.io.cicids import FAMILIES
from hep_aa.workflow import DATASETS, LHCO_TYPES, VH_TYPES


@pytest.mark.parametrize("feature_set", sorted(FEATURE_SETS))
def test_every_lhco_feature_has_label_and_the_table_unit(feature_set: str) -> None:
    for name in FEATURE_SETS[feature_set]:
        f = R.feature(name, dataset="lhco", feature_set=feature_set)
        assert f.label != name
        assert f.label.startswith("$")  # LaTeX, not the column name
        if "tau" in name:
            assert f.unit == ""
        else:  # momenta and masses carry the unit the table is written in
            assert f.unit == UNITS[feature_set]


def test_vh_features_labels_and_units() -> None:
    units = {n: R.feature(n, dataset="vh").unit for n in VH_FEATURES}
    assert set(units) == set(VH_FEATURES)
    assert units["phi_cs"] == "rad"  # an angle, never GeV
    assert units["dphi_zh"] == "rad"
    assert units["cos_theta_cs"] == units["eta_z"] == units["dr_bb"] == ""
    for n in ("pt_z", "pt_h", "m_bb", "m_zh", "pt_zh"):
        assert units[n] == "GeV"
    assert R.feature("pt_z", dataset="vh").axis_label == "$p_{T}^{Z}$ [GeV]"
    assert R.feature("cos_theta_cs").axis_label == r"$\cos\theta_{\mathrm{CS}}$"
    assert all(R.feature(n, dataset="vh").label != n for n in VH_FEATURES)


def test_same_name_different_units() -> None:
    assert R.feature("mjj", dataset="lhco", feature_set="community").unit == "TeV"
    assert R.feature("mjj", dataset="lhco", feature_set="jets").unit == "GeV"
    assert R.feature("mjj_gev").axis_label == "$m_{jj}$ [GeV]"
    assert R.feature("mjj").unit == "TeV"  # community first: the default feature set


def test_jet_columns_cover_jet_features() -> None:
    # the per-jet columns written by jet_features (pt-ordered), GeV and radians
    assert R.feature("pt_j1", feature_set="jets").axis_label == "$p_{T}^{j_{1}}$ [GeV]"
    assert R.feature("phi_j2", feature_set="jets").unit == "rad"
    assert R.feature("tau32_j1", feature_set="jets").unit == ""
    assert R.feature("delta_eta_jj").unit == ""


def test_pixels_and_cicids_columns_are_generic() -> None:
    px = R.feature("px029", dataset="mnist")
    assert px.label == "Pixel (1, 1) intensity"
    assert px.unit == ""
    # the official LHCO "pxj1" is a momentum, not a pixel
    assert R.feature("pxj1").unit == "GeV"
    cases = {
        "Flow Duration": "µs",
        "Fwd IAT Mean": "µs",
        "Flow Bytes/s": "B/s",
        "Flow Packets/s": "1/s",
        "Total Length of Fwd Packets": "B",
        "Packet Length Variance": "B$^2$",
        "Init_Win_bytes_forward": "B",
        "Total Fwd Packets": "",
        "Destination Port": "",
        "Fwd Avg Packets/Bulk": "",
    }
    for name, unit in cases.items():
        assert R.feature(name, dataset="cicids").unit == unit, name
    assert R.feature("Init_Win_bytes_forward", dataset="cicids").label == "Init Win bytes forward"
    assert R.feature("some_new_column").label == "some new column"  # unknown: readable, no failure


def test_anomaly_types_of_every_dataset_have_physics_names() -> None:
    workflow_types = [*LHCO_TYPES.values(), *(t for t in VH_TYPES.values() if t != "background")]
    for kind in [*workflow_types, *SYNTHETIC_KINDS, "fashion-mnist", *FAMILIES]:
        assert kind in R.ANOMALY_TYPES, kind
    assert R.anomaly_label("wprime_known") != "wprime_known"
    assert "W'" in R.anomaly_label("wprime_unseen")
    assert "SMEFT" in R.anomaly_label("smeft_unseen")
    assert R.anomaly_label("smeft_known", seen=True).endswith("(seen in training)")
    assert R.anomaly_label("smeft_unseen", seen=False).endswith("(unseen)")
    assert R.anomaly_label("digit-3") == "digit 3"
    assert R.anomaly_label("digit-1 (known)") == "digit 1"
    assert R.anomaly_label("background", dataset="lhco") == "QCD dijets"
    assert R.anomaly_label("background", dataset="mnist") == "handwritten digits"
    assert R.anomaly_label("brand_new") == "brand new"


def test_dataset_flags() -> None:
    assert set(DATASETS) <= set(R.DATASETS)
    assert R.dataset_info("lhco").collider
    assert R.dataset_info("vh").collider
    assert not R.dataset_info("mnist").collider
    assert not R.dataset_info("cicids").collider
    assert "rejection" in R.dataset_info("lhco").rejection_label
    assert "false-positive" in R.dataset_info("mnist").rejection_label
    assert R.dataset_info(None).collider  # unknown: conservative HEP wording


def test_every_label_is_valid_mathtext() -> None:
    from matplotlib.mathtext import MathTextParser

    parser = MathTextParser("path")
    labels = [f.axis_label for group in R.FEATURE_SETS.values() for f in group.values()]
    labels += [f.density_label for f in R.VH.values()]
    labels += [a.label for a in R.ANOMALY_TYPES.values()]
    labels += [d.title for d in R.DATASETS.values()]
    labels += [getattr(d, k) for d in R.DATASETS.values() for k in ("rejection_label", "sic_label")]
    for label in labels:
        parser.parse(label, dpi=72)  # raises ValueError on bad mathtext


def test_hist_axis_from_registry() -> None:
    ax = R.axis("m_zh", 40, 200.0, 1200.0, dataset="vh")
    assert ax.name == "m_zh"
    assert ax.label == "$m_{Zh}$ [GeV]"
    assert len(ax) == 40


def test_cutflow_histogram_round_trips_through_root(tmp_path: Path) -> None:
    import hist
    import uproot

    steps = {"all events": 1000.0, "Z and h candidates": 512.0, "pT(Z) > 150 GeV": 120.0}
    h = R.cutflow_histogram(steps)
    assert list(h.axes[0]) == list(steps)
    assert h.axes[0].label == "Selection step"
    with uproot.recreate(tmp_path / "c.root") as f:
        f["vh/cutflow"] = h
    back = uproot.open(tmp_path / "c.root")["vh/cutflow"]
    assert list(back.axis().labels()) == list(steps)
    np.testing.assert_array_equal(back.values(), list(steps.values()))
    np.testing.assert_array_equal(back.variances(), list(steps.values()))
    # a processor's StrCategory accumulator converts with its order and weights kept
    acc = hist.Hist(hist.axis.StrCategory([], growth=True, name="cut"), storage=hist.storage.Weight())
    acc.fill(cut=["b", "a"], weight=[2.0, 3.0])
    c = R.cutflow_histogram(acc)
    assert list(c.axes[0]) == ["b", "a"]
    np.testing.assert_array_equal(c.values(), [2.0, 3.0])
    np.testing.assert_array_equal(c.variances(), [4.0, 9.0])


def test_parton_level_higgs_columns_have_labels() -> None:
    """Every column ``hep-aa features higgs`` can write has its own entry (units in GeV, not the
    LHCO community set's TeV), and the VH/LHCO names keep theirs."""
    from hep_aa.features.higgs import HIGGS_GROUPS
    from hep_aa.features.registry import HIGGS_PARTON, dataset_info, feature

    for columns in HIGGS_GROUPS.values():
        for name in columns:
            assert feature(name, dataset="higgs") is HIGGS_PARTON[name], name
    assert feature("m_jj", dataset="higgs").unit == "GeV"
    assert feature("pt_h", dataset="vh").description.endswith("h candidate")
    assert dataset_info("higgs").collider
