"""Object selection for Z(ℓℓ)h(bb̄): one definition for ``hep-aa features vh`` and the coffea processor.

The selection acts on hep_aa's common event model (see :mod:`hep_aa.features.higgs`):

- ``leptons``: ``pt, eta, phi, mass, charge, pdgId`` and, when the input provides them,
  ``id`` — the identification level on the NanoAOD ``Electron_cutBased`` scale (0 fail,
  1 veto, 2 loose, 3 medium, 4 tight; muons: ``Muon_tightId`` → 4, else ``Muon_mediumId`` → 3,
  else ``Muon_looseId`` → 2, else 0) — and ``iso``, the relative PF isolation
  (``Muon_pfRelIso04_all``, ``Electron_pfRelIso03_all``);
- ``jets``: ``pt, eta, phi, mass, btag`` (1/0) and, when provided, ``btag_score`` (the raw
  discriminant, e.g. ``Jet_btagDeepFlavB``) and ``jet_id`` (the NanoAOD ``Jet_jetId`` bits).

A criterion whose field the input lacks (generated or Delphes files carry no ID bits; LHE
partons carry nothing but kinematics) is not applied: :meth:`ObjectSelection.applied` says
which were. The code uses only awkward functions and NumPy ufuncs, so the same function runs
on eager ``awkward`` arrays (NanoEvents in eager or virtual mode, uproot chunks) and on
``dask-awkward`` collections (``NanoEventsFactory(..., mode="dask")``), where it stays lazy.

Defaults follow common CMS Run 2 choices for Z(ℓℓ)H(bb̄): leptons pT > 20 GeV, muons
|η| < 2.4 with the tight ID and PF isolation (ΔR 0.4) < 0.15, electrons |η| < 2.5 with the
cut-based medium ID (which includes isolation); jets pT > 30 GeV, |η| < 2.5, tight jet ID,
ΔR(jet, selected lepton) > 0.4; b tagging with DeepJet at the medium working point of 2018
(UL): 0.2783.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np

from hep_aa.exceptions import ConfigError

__all__ = ["BTAG_WORKING_POINTS", "DEFAULT_SELECTION", "ID_LEVELS", "ObjectSelection", "select_objects"]

#: Identification levels, on the scale of NanoAOD ``Electron_cutBased``.
ID_LEVELS = {"none": 0, "veto": 1, "loose": 2, "medium": 3, "tight": 4}

#: b-tag algorithm → (NanoAOD jet branch, {era: {working point: threshold}}); CMS BTV
#: Run 2 Ultra-Legacy recommendations.
BTAG_WORKING_POINTS: dict[str, tuple[str, dict[str, dict[str, float]]]] = {
    "DeepJet": (
        "btagDeepFlavB",
        {
            "2016preVFP": {"loose": 0.0508, "medium": 0.2598, "tight": 0.6502},
            "2016postVFP": {"loose": 0.0480, "medium": 0.2489, "tight": 0.6377},
            "2017": {"loose": 0.0532, "medium": 0.3040, "tight": 0.7476},
            "2018": {"loose": 0.0490, "medium": 0.2783, "tight": 0.7100},
        },
    ),
    "DeepCSV": (
        "btagDeepB",
        {
            "2016preVFP": {"loose": 0.2027, "medium": 0.6001, "tight": 0.8819},
            "2016postVFP": {"loose": 0.1918, "medium": 0.5847, "tight": 0.8767},
            "2017": {"loose": 0.1355, "medium": 0.4506, "tight": 0.7738},
            "2018": {"loose": 0.1208, "medium": 0.4168, "tight": 0.7665},
        },
    ),
}

#: ``Jet_jetId`` bit of each jet ID working point (bit 1 = tight, bit 2 = tight lepton veto).
JET_ID_BITS = {"none": 0, "loose": 1, "tight": 2, "tightLepVeto": 4}


@dataclass(frozen=True)
class ObjectSelection:
    """Lepton, jet and b-tag selection (plain data: pickles cheaply, hashable).

    Parameters
    ----------
    electron_pt, muon_pt : float
        Minimum lepton pT [GeV].
    electron_eta, muon_eta : float
        Maximum |η|.
    electron_id, muon_id : {"none", "veto", "loose", "medium", "tight"}
        Minimum identification level (see :data:`ID_LEVELS`).
    electron_iso, muon_iso : float or None
        Maximum relative isolation (None: no cut; the electron cut-based ID already cuts on it).
    jet_pt : float
        Minimum jet pT [GeV].
    jet_eta : float
        Maximum jet |η| (2.5: the tracker, where b tagging works).
    jet_id : {"none", "loose", "tight", "tightLepVeto"}
        ``Jet_jetId`` bit required.
    jet_lepton_dr : float
        Jets within this ΔR of a selected lepton are removed (0: no cleaning).
    btag : str
        ``"ALGORITHM:working point"``, e.g. ``"DeepJet:medium"`` or ``"DeepCSV:tight"``.
    era : str
        Key of :data:`BTAG_WORKING_POINTS` (``"2016preVFP"``, ``"2016postVFP"``, ``"2017"``, ``"2018"``).
    """

    electron_pt: float = 20.0
    electron_eta: float = 2.5
    electron_id: str = "medium"
    electron_iso: float | None = None
    muon_pt: float = 20.0
    muon_eta: float = 2.4
    muon_id: str = "tight"
    muon_iso: float | None = 0.15
    jet_pt: float = 30.0
    jet_eta: float = 2.5
    jet_id: str = "tight"
    jet_lepton_dr: float = 0.4
    btag: str = "DeepJet:medium"
    era: str = "2018"

    def __post_init__(self) -> None:
        for name in ("electron_id", "muon_id"):
            if getattr(self, name) not in ID_LEVELS:
                raise ConfigError(
                    f"selection.{name}: {getattr(self, name)!r} is not one of {list(ID_LEVELS)}"
                )
        if self.jet_id not in JET_ID_BITS:
            raise ConfigError(f"selection.jet_id: {self.jet_id!r} is not one of {list(JET_ID_BITS)}")
        self.btag_threshold  # noqa: B018 - validates btag and era

    @property
    def btag_algorithm(self) -> str:
        return self.btag.split(":", 1)[0]

    @property
    def btag_branch(self) -> str:
        """NanoAOD ``Jet`` field holding the discriminant of :attr:`btag`."""
        return BTAG_WORKING_POINTS[self.btag_algorithm][0]

    @property
    def btag_threshold(self) -> float:
        """Discriminant threshold of the working point named by :attr:`btag` in :attr:`era`."""
        algo, _, wp = self.btag.partition(":")
        if algo not in BTAG_WORKING_POINTS or not wp:
            raise ConfigError(
                f"selection.btag: {self.btag!r} is not ALGORITHM:WP with ALGORITHM in {list(BTAG_WORKING_POINTS)}"
            )
        eras = BTAG_WORKING_POINTS[algo][1]
        if self.era not in eras:
            raise ConfigError(f"selection.era: {self.era!r} is not one of {list(eras)}")
        if wp not in eras[self.era]:
            raise ConfigError(f"selection.btag: working point {wp!r} is not one of {list(eras[self.era])}")
        return eras[self.era][wp]

    def applied(self, events: Any) -> list[str]:
        """Names of the criteria applicable to ``events`` (those whose fields are present)."""
        lep, jet = set(events.leptons.fields), set(events.jets.fields)
        out = ["lepton pT/eta", "jet pT/eta"]
        if "id" in lep:
            out.append("lepton ID")
        if "iso" in lep and (self.muon_iso is not None or self.electron_iso is not None):
            out.append("lepton isolation")
        if "jet_id" in jet and self.jet_id != "none":
            out.append("jet ID")
        if self.jet_lepton_dr > 0:
            out.append("jet-lepton dR")
        out.append(f"b tag {self.btag} ({self.era})" if "btag_score" in jet else "b tag (input flag)")
        return out


DEFAULT_SELECTION = ObjectSelection()


def _dphi(a: Any, b: Any) -> Any:
    return (a - b + np.pi) % (2 * np.pi) - np.pi


def select_objects(events: Any, selection: ObjectSelection | None = None) -> Any:
    """Events with only the selected ``leptons`` and ``jets`` (pT-ordered, as given).

    Parameters
    ----------
    events : ak.Array or dask_awkward.Array
        The common event model (``leptons``, ``jets``, optionally ``weight``).
    selection : ObjectSelection, optional
        :data:`DEFAULT_SELECTION` when None.

    Returns
    -------
    Same type as ``events``, same length; jets get ``btag`` from ``btag_score`` and the
    working point when the score is present.
    """
    sel = selection or DEFAULT_SELECTION
    lep, jets = events.leptons, events.jets
    is_ele = abs(lep.pdgId) == 11
    is_mu = abs(lep.pdgId) == 13
    aeta = abs(lep.eta)
    good_e = is_ele & (lep.pt > sel.electron_pt) & (aeta < sel.electron_eta)
    good_m = is_mu & (lep.pt > sel.muon_pt) & (aeta < sel.muon_eta)
    if "id" in lep.fields:
        good_e = good_e & (lep.id >= ID_LEVELS[sel.electron_id])
        good_m = good_m & (lep.id >= ID_LEVELS[sel.muon_id])
    if "iso" in lep.fields:
        if sel.electron_iso is not None:
            good_e = good_e & (lep.iso < sel.electron_iso)
        if sel.muon_iso is not None:
            good_m = good_m & (lep.iso < sel.muon_iso)
    lep = lep[good_e | good_m]

    good_j = (jets.pt > sel.jet_pt) & (abs(jets.eta) < sel.jet_eta)
    if "jet_id" in jets.fields and sel.jet_id != "none":
        good_j = good_j & ((jets.jet_id & JET_ID_BITS[sel.jet_id]) != 0)
    jets = jets[good_j]
    if sel.jet_lepton_dr > 0:
        pair = ak.cartesian({"j": jets, "l": lep}, axis=1, nested=True)
        dr2 = (pair.j.eta - pair.l.eta) ** 2 + _dphi(pair.j.phi, pair.l.phi) ** 2
        jets = jets[ak.all(dr2 > sel.jet_lepton_dr**2, axis=2)]
    if "btag_score" in jets.fields:
        jets = ak.with_field(jets, ak.values_astype(jets.btag_score > sel.btag_threshold, np.float64), "btag")
    fields = {"leptons": lep, "jets": jets}
    if "weight" in events.fields:
        fields["weight"] = events.weight
    return ak.zip(fields, depth_limit=1)
