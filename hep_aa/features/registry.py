"""One registry of names: every feature's LaTeX label and unit, anomaly types, datasets.

Tables, figures, histograms (hist axes) and the coffea processor take their labels from here,
so a feature is named one way everywhere. Three kinds of entry:

- **features** (:func:`feature`): the LHCO ``official`` (15 columns, GeV) and ``community``
  (masses in TeV) sets, the per-jet columns of :func:`hep_aa.features.jets.jet_features` (GeV),
  the Z h features of :mod:`hep_aa.features.higgs` (GeV, radians), spectators (``mjj_gev``,
  ``weight``), MNIST pixels ``px000`` … ``px783`` (generic: row and column of the pixel) and
  CICIDS2017 flow columns (generic: unit from the column name: durations and inter-arrival
  times in µs, lengths in bytes, rates per second);
- **anomaly types** (:func:`anomaly_label`): the physics name of a type written in a feature
  table (``wprime_known`` → W′ → X Y, ``smeft_unseen`` → SMEFT Zh at the unseen point, …);
- **datasets** (:func:`dataset_info`): title, background name and whether it is collider data
  (collider figures carry the √s label and speak of signal efficiency and background
  rejection; image and network-flow figures speak of true- and false-positive rates).

The same name can mean different units in different feature sets (``mjj`` is GeV per jet
pair but TeV in the community set), so lookups take the dataset and feature set when known.
Unknown names never fail: they get a readable label (underscores as spaces) and no unit.

Examples
--------
>>> feature("phi_cs", dataset="vh").axis_label
'$\\\\phi_{\\\\mathrm{CS}}$ [rad]'
>>> feature("mjj", dataset="lhco", feature_set="community").axis_label
'$m_{jj}$ [TeV]'
>>> anomaly_label("wprime_known", seen=True)
"$W'\\\\to XY$, $m_{W'}$ = 3.5 TeV (seen in training)"
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # hist is imported lazily: the registry itself is plain data
    import hist

__all__ = [
    "DATASETS",
    "AnomalyType",
    "DatasetInfo",
    "Feature",
    "anomaly_label",
    "anomaly_type",
    "axis",
    "cutflow_histogram",
    "dataset_info",
    "feature",
    "feature_set_names",
    "features",
]


def _one_formula(label: str) -> bool:
    return label.count("$") == 2 and label.startswith("$") and label.endswith("$")


@dataclass(frozen=True)
class Feature:
    """One feature (a column of a table or a histogram axis).

    Attributes
    ----------
    name : str
        Column name in the table (snake_case, as written by ``hep-aa features``).
    label : str
        LaTeX (matplotlib mathtext) label without the unit, e.g. ``$p_{T}^{Z}$``.
    unit : str
        Unit in plain text (``GeV``, ``TeV``, ``rad``, ``µs``, ``B``), ``""`` if dimensionless.
    description : str
        One line for documentation and tables.
    """

    name: str
    label: str
    unit: str = ""
    description: str = ""

    @property
    def axis_label(self) -> str:
        """Label with the unit in square brackets (none for a dimensionless feature)."""
        return f"{self.label} [{self.unit}]" if self.unit else self.label

    @property
    def density_label(self) -> str:
        """y label of a unit-area histogram of this feature: 1/N dN/dx [1/unit] (x = the
        feature's symbol when its label is one formula)."""
        unit = f"({self.unit})" if " " in self.unit or "/" in self.unit else self.unit
        inverse = f" [{unit}$^{{-1}}$]" if self.unit else ""
        inner = self.label[1:-1] if _one_formula(self.label) else "x"
        return rf"$1/N\;dN/d{inner}$" + inverse


@dataclass(frozen=True)
class AnomalyType:
    """Physics name of an anomaly type written in a feature table's ``type`` column."""

    name: str
    label: str
    description: str = ""


@dataclass(frozen=True)
class DatasetInfo:
    """What a figure needs to know about a dataset.

    Attributes
    ----------
    collider : bool
        Collider events (LHCO, VH): √s label, "signal efficiency" / "background rejection".
        False for images and network flows: "true-positive rate" / "false-positive rate",
        no "Simulation" and no √s.
    background : str
        Name of the normal (label-0) class in legends.
    """

    name: str
    title: str
    collider: bool
    background: str
    description: str = ""

    @property
    def signal_efficiency_label(self) -> str:
        """x label of ROC and SIC curves."""
        if self.collider:
            return r"Signal efficiency $\varepsilon_S$"
        return r"True-positive rate $\varepsilon_S$ (anomalies flagged)"

    @property
    def rejection_label(self) -> str:
        """y label of a ROC curve in the 1/ε_B convention."""
        if self.collider:
            return r"Background rejection $1/\varepsilon_B$"
        return r"1 / false-positive rate $1/\varepsilon_B$"

    @property
    def sic_label(self) -> str:
        """y label of a SIC curve."""
        return r"SIC $\varepsilon_S/\varepsilon_B^{1/2}$"  # mathtext \\sqrt: no glyph

    @property
    def efficiency_symbol(self) -> str:
        """Name of ε_B in prose (cut descriptions, legends)."""
        return r"$\varepsilon_B$" if self.collider else r"FPR $\varepsilon_B$"


# ---------------------------------------------------------------------------------------------
# datasets
# ---------------------------------------------------------------------------------------------

DATASETS: dict[str, DatasetInfo] = {
    "lhco": DatasetInfo(
        "lhco",
        "LHC Olympics 2020 R&D (dijets)",
        True,
        "QCD dijets",
        "Large-R dijet events; background QCD, signal W' -> X(qq) Y(qq).",
    ),
    "vh": DatasetInfo(
        "vh",
        r"$Zh \to \ell\ell b\bar{b}$ (SMEFT)",
        True,
        r"SM $Zh$",
        "Higgs-strahlung q qbar -> Z(ll) h(bb); anomalies are SMEFT-reweighted samples.",
    ),
    "higgs": DatasetInfo(
        "higgs",
        r"$h$ production, parton level (LHE)",
        True,
        "SM hypothesis",
        "Any Higgs production mode read from a MadGraph LHE file; hypotheses are named weights.",
    ),
    "mnist": DatasetInfo(
        "mnist",
        "MNIST",
        False,
        "handwritten digits",
        "28x28 images; normal = digits, anomalies = Fashion-MNIST or synthetic corruptions.",
    ),
    "cicids": DatasetInfo(
        "cicids",
        "CICIDS2017",
        False,
        "benign traffic",
        "Network flows (CICFlowMeter features); anomalies are attack families.",
    ),
}


def dataset_info(dataset: str | None) -> DatasetInfo:
    """The :class:`DatasetInfo` of ``dataset``; an unknown or missing name is treated as
    collider data (the conservative HEP wording) titled by its name."""
    if dataset in DATASETS:
        return DATASETS[str(dataset)]
    return DatasetInfo(str(dataset or ""), str(dataset or ""), True, "background")


# ---------------------------------------------------------------------------------------------
# features
# ---------------------------------------------------------------------------------------------


def _jet(i: int) -> str:
    return f"j_{{{i}}}"


def _lhco_official() -> dict[str, Feature]:
    out = {}
    for i in (1, 2):
        j = _jet(i)
        which = "leading" if i == 1 else "subleading"
        for q, lab in (("px", "p_{x}"), ("py", "p_{y}"), ("pz", "p_{z}")):
            out[f"{q}j{i}"] = Feature(f"{q}j{i}", f"${lab}^{{{j}}}$", "GeV", f"{q} of the {which}-pT jet")
        out[f"mj{i}"] = Feature(f"mj{i}", f"$m_{{{j}}}$", "GeV", f"mass of the {which}-pT jet")
        for n in (1, 2, 3):
            out[f"tau{n}j{i}"] = Feature(
                f"tau{n}j{i}", f"$\\tau_{{{n}}}^{{{j}}}$", "", f"N-subjettiness tau_{n} of the {which}-pT jet"
            )
    return out


LHCO_OFFICIAL = _lhco_official()

LHCO_COMMUNITY = {
    f.name: f
    for f in (
        Feature("mjj", "$m_{jj}$", "TeV", "dijet invariant mass"),
        Feature("mj_min", r"$m_{j,\mathrm{light}}$", "TeV", "mass of the lighter jet"),
        Feature("delta_mj", r"$\Delta m_{j}$", "TeV", "heavier minus lighter jet mass"),
        Feature("tau21_jmin", r"$\tau_{21}^{j,\mathrm{light}}$", "", "tau_2/tau_1 of the lighter jet"),
        Feature("tau21_jmax", r"$\tau_{21}^{j,\mathrm{heavy}}$", "", "tau_2/tau_1 of the heavier jet"),
    )
}


def _jet_columns() -> dict[str, Feature]:
    out = {}
    for i in (1, 2):
        j = _jet(i)
        for name, lab, unit in (
            ("px", "p_{x}", "GeV"),
            ("py", "p_{y}", "GeV"),
            ("pz", "p_{z}", "GeV"),
            ("pt", "p_{T}", "GeV"),
            ("eta", r"\eta", ""),
            ("phi", r"\phi", "rad"),
            ("m", "m", "GeV"),
        ):
            label = f"${lab}^{{{j}}}$" if name.startswith("p") else f"${lab}_{{{j}}}$"
            out[f"{name}_j{i}"] = Feature(f"{name}_j{i}", label, unit, f"{name} of jet {i} (pT-ordered)")
        for n in (1, 2, 3):
            out[f"tau{n}_j{i}"] = Feature(f"tau{n}_j{i}", f"$\\tau_{{{n}}}^{{{j}}}$", "", "N-subjettiness")
        out[f"tau21_j{i}"] = Feature(f"tau21_j{i}", f"$\\tau_{{21}}^{{{j}}}$", "", "tau_2/tau_1")
        out[f"tau32_j{i}"] = Feature(f"tau32_j{i}", f"$\\tau_{{32}}^{{{j}}}$", "", "tau_3/tau_2")
    out["mjj"] = Feature("mjj", "$m_{jj}$", "GeV", "dijet invariant mass")
    out["delta_eta_jj"] = Feature("delta_eta_jj", r"$|\Delta\eta_{jj}|$", "", "rapidity gap of the two jets")
    return out


JET_COLUMNS = _jet_columns()

VH = {
    f.name: f
    for f in (
        Feature("pt_z", r"$p_{T}^{Z}$", "GeV", "transverse momentum of the Z candidate"),
        Feature("eta_z", r"$\eta_{Z}$", "", "pseudorapidity of the Z candidate"),
        Feature("pt_h", r"$p_{T}^{h}$", "GeV", "transverse momentum of the h candidate"),
        Feature("eta_h", r"$\eta_{h}$", "", "pseudorapidity of the h candidate"),
        Feature("m_bb", r"$m_{b\bar{b}}$", "GeV", "invariant mass of the h candidate jets"),
        Feature("m_zh", r"$m_{Zh}$", "GeV", "invariant mass of the Z h system"),
        Feature("pt_zh", r"$p_{T}^{Zh}$", "GeV", "transverse momentum of the Z h system"),
        Feature("dphi_zh", r"$|\Delta\phi_{Zh}|$", "rad", "azimuthal separation of Z and h"),
        Feature("dr_bb", r"$\Delta R_{b\bar{b}}$", "", "separation of the two h jets"),
        Feature("dr_ll", r"$\Delta R_{\ell\ell}$", "", "separation of the two Z leptons"),
        Feature("cos_theta_cs", r"$\cos\theta_{\mathrm{CS}}$", "", "Collins-Soper polar angle of the l-"),
        Feature("phi_cs", r"$\phi_{\mathrm{CS}}$", "rad", "Collins-Soper azimuth of the l-"),
        Feature("h_fallback", r"$h$ fallback", "", "1 when fewer than two jets are b-tagged"),
    )
}

#: parton-level Higgs features of ``hep-aa features higgs`` (hep_aa.features.higgs.HIGGS_GROUPS)
HIGGS_PARTON = {
    f.name: f
    for f in (
        Feature("pt_h", r"$p_{T}^{h}$", "GeV", "transverse momentum of the Higgs boson"),
        Feature("y_h", r"$y_{h}$", "", "rapidity of the Higgs boson"),
        Feature("m_jj", r"$m_{jj}$", "GeV", "invariant mass of the two tag partons"),
        Feature("delta_eta_jj", r"$|\Delta\eta_{jj}|$", "", "pseudorapidity gap of the two tag partons"),
        Feature(
            "delta_phi_jj",
            r"$\Delta\phi_{jj}$",
            "rad",
            "signed azimuthal difference, forward minus backward tag parton",
        ),
        Feature("pt_v", r"$p_{T}^{V}$", "GeV", "transverse momentum of the vector boson"),
        Feature("y_v", r"$y_{V}$", "", "rapidity of the vector boson"),
        Feature("m_vh", r"$m_{Vh}$", "GeV", "invariant mass of the V h system"),
        Feature("pt_vh", r"$p_{T}^{Vh}$", "GeV", "transverse momentum of the V h system"),
        Feature("dphi_vh", r"$|\Delta\phi_{Vh}|$", "rad", "azimuthal separation of V and h"),
        Feature(
            "cos_theta_cs",
            r"$\cos\theta_{\mathrm{CS}}$",
            "",
            "Collins-Soper polar angle of the V decay fermion",
        ),
        Feature("phi_cs", r"$\phi_{\mathrm{CS}}$", "rad", "Collins-Soper azimuth of the V decay fermion"),
        Feature("dr_ff", r"$\Delta R_{f\bar{f}}$", "", "separation of the two V decay fermions"),
    )
}

SPECTATORS = {
    f.name: f
    for f in (
        Feature("mjj_gev", "$m_{jj}$", "GeV", "dijet invariant mass"),
        Feature("weight", "Event weight", "", "generator or SMEFT weight"),
        Feature("score", "Anomaly score", "", "higher = more anomalous"),
        Feature("event_index", "Event index", "", "row in the input file"),
    )
}

#: feature sets by (dataset, feature set); the lookup order of :func:`feature`
FEATURE_SETS: dict[tuple[str, str], Mapping[str, Feature]] = {
    ("lhco", "community"): LHCO_COMMUNITY,
    ("lhco", "official"): LHCO_OFFICIAL,
    ("lhco", "jets"): JET_COLUMNS,
    ("vh", "vh"): VH,
    ("higgs", "parton"): HIGGS_PARTON,
}

_PIXEL = re.compile(r"^px(\d{3,4})$")


def _pixel(name: str, side: int = 28) -> Feature | None:
    m = _PIXEL.match(name)
    if not m:
        return None
    k = int(m.group(1))
    row, col = divmod(k, side)
    return Feature(
        name, f"Pixel ({row}, {col}) intensity", "", f"grey level of pixel row {row}, column {col}"
    )


# CICIDS2017 (CICFlowMeter) columns: the unit follows from the name
_CICIDS_UNITS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"bytes/s|bulk rate", re.I), "B/s"),
    (re.compile(r"packets/s", re.I), "1/s"),
    (re.compile(r"variance", re.I), "B$^2$"),
    (re.compile(r"duration|iat|active|idle", re.I), "µs"),
    (re.compile(r"packets/bulk", re.I), ""),
    (re.compile(r"length|bytes|size|init_win", re.I), "B"),
)


def _cicids(name: str) -> Feature:
    unit = ""
    for pattern, u in _CICIDS_UNITS:
        if pattern.search(name):
            unit = u
            break
    label = re.sub(r"\s+", " ", name.replace("_", " ")).strip()
    label = label.replace("IAT", "inter-arrival time")
    label = label[:1].upper() + label[1:]
    return Feature(name, label, unit, "CICFlowMeter flow feature")


def _generic(name: str) -> Feature:
    return Feature(name, name.replace("_", " "), "", "")


def feature(name: str, *, dataset: str | None = None, feature_set: str | None = None) -> Feature:
    """The :class:`Feature` of column ``name``.

    Parameters
    ----------
    name : str
        Column name as written in a feature table.
    dataset : {"lhco", "vh", "mnist", "cicids"}, optional
        Dataset of the table (its ``metadata["dataset"]``); picks the right unit when a name
        exists in several sets.
    feature_set : str, optional
        LHCO feature set (``community``, ``official``, ``jets``); ``community`` first otherwise.

    Returns
    -------
    Feature
        Never raises: unknown names get a readable generic entry.
    """
    if name in SPECTATORS:
        return SPECTATORS[name]
    if dataset == "cicids":
        return _cicids(name)
    pixel = _pixel(name)
    if pixel is not None and dataset in (None, "mnist"):
        return pixel
    order = list(FEATURE_SETS)
    if dataset is not None:
        order.sort(key=lambda key: key[0] != dataset)
    if feature_set is not None:
        order.sort(key=lambda key: key[1] != feature_set)
    for key in order:
        if name in FEATURE_SETS[key]:
            return FEATURE_SETS[key][name]
    return _generic(name)


def features(
    names: Sequence[str], *, dataset: str | None = None, feature_set: str | None = None
) -> list[Feature]:
    """:func:`feature` of every name, in order."""
    return [feature(n, dataset=dataset, feature_set=feature_set) for n in names]


def feature_set_names() -> list[tuple[str, str]]:
    """The (dataset, feature set) pairs with explicit entries (for documentation)."""
    return list(FEATURE_SETS)


def axis(
    name: str,
    bins: int,
    start: float,
    stop: float,
    *,
    dataset: str | None = None,
    feature_set: str | None = None,
    transform: Any = None,
) -> hist.axis.Regular:
    """A ``hist.axis.Regular`` named ``name`` with the registry's label and unit.

    Examples
    --------
    >>> axis("m_zh", 40, 200, 1200, dataset="vh").label
    '$m_{Zh}$ [GeV]'
    """
    import hist

    f = feature(name, dataset=dataset, feature_set=feature_set)
    return hist.axis.Regular(bins, start, stop, name=name, label=f.axis_label, transform=transform)


# ---------------------------------------------------------------------------------------------
# anomaly types
# ---------------------------------------------------------------------------------------------

ANOMALY_TYPES: dict[str, AnomalyType] = {
    a.name: a
    for a in (
        AnomalyType("background", "background", "normal events (label 0)"),
        # LHCO-like generation (hep_aa.workflow.LHCO_TYPES), default masses of workflows/config.yaml
        AnomalyType(
            "wprime_known",
            r"$W'\to XY$, $m_{W'}$ = 3.5 TeV",
            "W' -> X(qq) Y(qq), the LHCO R&D masses (3.5 TeV, 500 GeV, 100 GeV)",
        ),
        AnomalyType(
            "wprime_unseen",
            r"$W'\to XY$, $m_{W'}$ = 3 TeV",
            "W' -> X(qq) Y(qq) at other masses (3 TeV, 300 GeV, 300 GeV), never shown in training",
        ),
        AnomalyType("signal", "signal", "label-1 events of a real LHCO file"),
        # VH (hep_aa.workflow.VH_TYPES)
        AnomalyType("smeft", r"SMEFT $Zh$", "SMEFT-reweighted Z h events"),
        AnomalyType(
            "smeft_known",
            r"SMEFT $Zh$, seen point",
            "SMEFT Z h at datasets.vh.point (default contact_uL: left-handed hZuu contact term)",
        ),
        AnomalyType(
            "smeft_unseen",
            r"SMEFT $Zh$, unseen point",
            "SMEFT Z h at datasets.vh.unseen_point (default czbox: the hZZ form factor c_z-box)",
        ),
        # MNIST paper protocol (hep_aa.features.images)
        AnomalyType("fashion-mnist", "Fashion-MNIST", "Fashion-MNIST images (known anomaly of the paper)"),
        AnomalyType("known-images", "known images", "images given with --known-images"),
        AnomalyType("noise", "uniform noise", "uniform pixel noise (amplitude 0.5) added"),
        AnomalyType("inverted", "inverted", "1 - x"),
        AnomalyType("rotated", "rotated", "rotated by 90, 180 or 270 degrees"),
        AnomalyType("occluded", "occluded", "a 10x10 white block"),
        AnomalyType("superimposed", "two digits superimposed", "pixel-wise maximum of two images"),
        # CICIDS2017 families (hep_aa.io.cicids.FAMILIES)
        AnomalyType("DoS", "DoS", "denial of service (Hulk, GoldenEye, slowloris, Slowhttptest)"),
        AnomalyType("DDoS", "DDoS", "distributed denial of service (LOIT)"),
        AnomalyType("PortScan", "port scan", "port scan"),
        AnomalyType("Bot", "botnet", "Ares botnet"),
        AnomalyType("Web Attack", "web attack", "brute force, XSS, SQL injection"),
        AnomalyType("Brute Force", "brute force", "FTP- and SSH-Patator"),
        AnomalyType("Infiltration", "infiltration", "infiltration"),
        AnomalyType("Heartbleed", "Heartbleed", "Heartbleed exploit"),
    )
}

_DIGIT = re.compile(r"^digit-(\d)( \(known\))?$")


def anomaly_type(kind: str, *, dataset: str | None = None) -> AnomalyType:
    """The :class:`AnomalyType` of ``kind`` (generic for unknown names, never raises).

    ``background`` is named after the dataset's normal class when ``dataset`` is given.
    """
    if kind == "background" and dataset is not None:
        return AnomalyType(kind, dataset_info(dataset).background, "normal events (label 0)")
    if kind in ANOMALY_TYPES:
        return ANOMALY_TYPES[kind]
    m = _DIGIT.match(kind)
    if m:
        return AnomalyType(kind, f"digit {m.group(1)}", "one-vs-rest protocol")
    return AnomalyType(kind, kind.replace("_", " "), "")


def anomaly_label(kind: str, *, dataset: str | None = None, seen: bool | None = None) -> str:
    """Legend label of an anomaly type, with "(seen in training)" / "(unseen)" when known."""
    label = anomaly_type(kind, dataset=dataset).label
    if seen is None or kind == "background":
        return label
    return f"{label} ({'seen in training' if seen else 'unseen'})"


# ---------------------------------------------------------------------------------------------
# cutflow
# ---------------------------------------------------------------------------------------------


def cutflow_histogram(steps: Mapping[str, float] | hist.Hist, *, name: str = "cut") -> hist.Hist:
    """A cutflow as a labelled histogram: one ``StrCategory`` bin per selection step, in order.

    uproot writes it as a TH1D whose bins carry the step names (``fXaxis.fLabels``), so ROOT
    and ``uproot.open(...)["cutflow"].axis().labels()`` show the labels::

        with uproot.recreate("out.root") as f:
            f["vh/cutflow"] = cutflow_histogram({"all events": 1000, "Z and h candidates": 512})

    Parameters
    ----------
    steps : mapping of str to float, or hist.Hist
        Events (or summed weights) after each step, in selection order; a one-axis
        ``StrCategory`` histogram (as a coffea processor fills) is copied with its order.

    Returns
    -------
    hist.Hist
        Weight storage (variance = the count for unweighted steps), axis label "Selection step".
    """
    import hist as _hist
    import numpy as np

    if isinstance(steps, _hist.Hist):
        labels = [str(x) for x in steps.axes[0]]
        values = np.asarray(steps.values(), dtype=np.float64)
        variances = steps.variances()
        variances = values.copy() if variances is None else np.asarray(variances, dtype=np.float64)
    else:
        labels = [str(k) for k in steps]
        values = np.asarray([float(v) for v in steps.values()], dtype=np.float64)
        variances = values.copy()
    h = _hist.Hist(
        _hist.axis.StrCategory(labels, name=name, label="Selection step"),
        storage=_hist.storage.Weight(),
        label="Events",
        name="cutflow",
    )
    h.view().value = values
    h.view().variance = variances
    return h
