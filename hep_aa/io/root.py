"""ROOT event readers (uproot) into hep_aa's common lepton/jet event model.

Layouts:

- NanoAOD-like flat trees (tree ``Events``: ``nElectron, Electron_pt, ...``, ``Muon_*``,
  ``Jet_*`` with ``Jet_btagDeepFlavB``), real CMS NanoAOD and hep_aa's generated files;
- Delphes (tree ``Delphes``: ``Electron.PT ...``, ``Muon.*``, ``Jet.PT/Eta/Phi/Mass/BTag``).

Both stream with ``uproot.iterate`` (``step_size`` events per chunk) and yield events with
``leptons`` (pt, eta, phi, mass, charge, pdgId), ``jets`` (pt, eta, phi, mass, btag) and
``weight`` — exactly what :func:`hep_aa.features.higgs.vh_features` consumes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import awkward as ak
import numpy as np

from hep_aa.exceptions import DataFormatError

__all__ = ["BTAG_THRESHOLD", "detect_layout", "iter_root_events", "jet_records"]

#: DeepJet medium working point (2018); hep_aa's generated files store 0/1.
BTAG_THRESHOLD = 0.2783

NANO = {
    "electron": ["Electron_pt", "Electron_eta", "Electron_phi", "Electron_mass", "Electron_charge"],
    "muon": ["Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass", "Muon_charge"],
    "jet": ["Jet_pt", "Jet_eta", "Jet_phi", "Jet_mass"],
}
DELPHES = {
    "electron": ["Electron.PT", "Electron.Eta", "Electron.Phi", "Electron.Charge"],
    "muon": ["Muon.PT", "Muon.Eta", "Muon.Phi", "Muon.Charge"],
    "jet": ["Jet.PT", "Jet.Eta", "Jet.Phi", "Jet.Mass", "Jet.BTag"],
}


def _open(path: Path):  # type: ignore[no-untyped-def]
    import uproot

    if not path.is_file():
        raise DataFormatError(f"{path}: file not found")
    try:
        return uproot.open(path)
    except Exception as exc:  # uproot raises several types for non-ROOT or truncated bytes
        raise DataFormatError(f"{path}: not a readable ROOT file ({exc}); is it truncated?") from None


def detect_layout(path: str | os.PathLike[str]) -> str:
    """``"nanoaod"`` (tree Events) or ``"delphes"`` (tree Delphes)."""
    p = Path(path)
    with _open(p) as f:
        keys = {k.split(";")[0] for k in f}
    if "Events" in keys:
        return "nanoaod"
    if "Delphes" in keys:
        return "delphes"
    raise DataFormatError(f"{p}: neither an 'Events' (NanoAOD) nor a 'Delphes' tree; keys {sorted(keys)[:8]}")


def _leptons(pt, eta, phi, mass, charge, flavour: int) -> ak.Array:  # type: ignore[no-untyped-def]
    return ak.zip(
        {
            "pt": ak.values_astype(pt, np.float64),
            "eta": ak.values_astype(eta, np.float64),
            "phi": ak.values_astype(phi, np.float64),
            "mass": ak.values_astype(mass, np.float64),
            "charge": ak.values_astype(charge, np.int32),
            "pdgId": ak.values_astype(-flavour * charge, np.int32),
        }
    )


def jet_records(pt, eta, phi, mass, btag) -> ak.Array:  # type: ignore[no-untyped-def]
    """Jets of the common event model (float64 kinematics, btag 1/0)."""
    return ak.zip(
        {
            "pt": ak.values_astype(pt, np.float64),
            "eta": ak.values_astype(eta, np.float64),
            "phi": ak.values_astype(phi, np.float64),
            "mass": ak.values_astype(mass, np.float64),
            "btag": ak.values_astype(btag, np.float64),
        }
    )


def _check_values(path: Path, chunk: ak.Array, branches: list[str], first_entry: int) -> None:
    """NaN/Inf in any branch, or a negative transverse momentum, is an error naming the branch.

    A NaN lepton pT would otherwise flow into most Z/h features of every event (sorting,
    sums), silently.
    """
    for branch in branches:
        values = chunk[branch]
        counts = ak.to_numpy(ak.num(values, axis=1)) if values.ndim > 1 else None
        flat = ak.to_numpy(ak.flatten(values, axis=None)).astype(np.float64, copy=False)
        bad = ~np.isfinite(flat)
        what = "NaN/Inf"
        leaf = re.split(r"[._/]", branch)[-1].lower()  # Muon_pt, Electron.PT, MissingET.MET
        if not bad.any() and leaf in ("pt", "et", "met"):
            bad = flat < 0
            what = "negative"
        if bad.any():
            idx = int(np.flatnonzero(bad)[0])
            entry = int(np.searchsorted(np.cumsum(counts), idx, side="right")) if counts is not None else idx
            raise DataFormatError(
                f"{path}: {what} value(s) in branch {branch!r} ({int(bad.sum())} in entries "
                f"{first_entry}-{first_entry + len(chunk) - 1}, first at entry {first_entry + entry}); "
                "fix or drop those events"
            )


#: Optional NanoAOD branches read when present, so that ``hep_aa.features.selection`` applies
#: the same lepton ID / isolation, jet ID and b-tag working point as the coffea processor.
NANO_OPTIONAL = (
    "Electron_cutBased",
    "Electron_pfRelIso03_all",
    "Muon_looseId",
    "Muon_mediumId",
    "Muon_tightId",
    "Muon_pfRelIso04_all",
    "Jet_jetId",
)


def _with_nano_ids(chunk: ak.Array, ele: ak.Array, mu: ak.Array, jets: ak.Array, btag: str) -> tuple:
    """Add ``id``/``iso`` to the leptons and ``jet_id``/``btag_score`` to the jets where the
    file has the branches (ID level as in the processor: electron cut-based 0-4, muon
    loose 2 / medium 3 / tight 4)."""
    names = set(chunk.fields)
    if "Electron_cutBased" in names and "Muon_tightId" in names:
        ele = ak.with_field(ele, ak.values_astype(chunk.Electron_cutBased, np.int32), "id")
        level = ak.values_astype(0 * chunk.Muon_pt, np.int32)
        for name, value in (("Muon_looseId", 2), ("Muon_mediumId", 3), ("Muon_tightId", 4)):
            if name in names:
                level = ak.where(chunk[name], value, level)
        mu = ak.with_field(mu, ak.values_astype(level, np.int32), "id")
    if "Electron_pfRelIso03_all" in names and "Muon_pfRelIso04_all" in names:
        ele = ak.with_field(ele, ak.values_astype(chunk.Electron_pfRelIso03_all, np.float64), "iso")
        mu = ak.with_field(mu, ak.values_astype(chunk.Muon_pfRelIso04_all, np.float64), "iso")
    if "Jet_jetId" in names:
        jets = ak.with_field(jets, ak.values_astype(chunk.Jet_jetId, np.int32), "jet_id")
    jets = ak.with_field(jets, ak.values_astype(chunk[btag], np.float64), "btag_score")
    return ele, mu, jets


def _model(electrons: ak.Array, muons: ak.Array, jets: ak.Array, weight: np.ndarray) -> ak.Array:
    leptons = ak.concatenate([electrons, muons], axis=1)
    leptons = leptons[ak.argsort(leptons.pt, axis=1, ascending=False)]
    return ak.zip({"leptons": leptons, "jets": jets, "weight": weight}, depth_limit=1)


def iter_root_events(
    path: str | os.PathLike[str], *, step_size: int = 50_000, weight: str | None = None
) -> Iterator[ak.Array]:
    """Stream a NanoAOD-like or Delphes file as the common event model.

    Parameters
    ----------
    path : path
    step_size : int
        Events per chunk.
    weight : str, optional
        Branch of a per-event weight factor (e.g. ``SMEFTweight_anom``, a SMEFT/SM ratio).
        The event weight is the generator weight (``genWeight`` of NanoAOD, ``Event.Weight`` of
        Delphes; 1 when the file has none) times this branch; naming the generator-weight
        branch itself gives it once.

    Raises
    ------
    DataFormatError
        Not ROOT, no known tree, a missing branch (named), truncated baskets.
    """
    import uproot

    p = Path(path)
    layout = detect_layout(p)
    tree_name = "Events" if layout == "nanoaod" else "Delphes"
    with _open(p) as f:
        tree = f[tree_name]
        keys = tree.keys()
        names = set(keys) | {k.split("/")[-1] for k in keys}  # Delphes nests "Electron/Electron.PT"
    spec = NANO if layout == "nanoaod" else DELPHES
    wanted = [b for group in spec.values() for b in group]
    btag = None
    if layout == "nanoaod":
        btag = (
            "Jet_btagDeepFlavB"
            if "Jet_btagDeepFlavB" in names
            else ("Jet_btagDeepB" if "Jet_btagDeepB" in names else None)
        )
        if btag is None:
            raise DataFormatError(f"{p}: no b-tag branch (Jet_btagDeepFlavB or Jet_btagDeepB)")
        wanted.append(btag)
    optional = [b for b in NANO_OPTIONAL if b in names] if layout == "nanoaod" else []
    default_weight = "genWeight" if layout == "nanoaod" else "Event.Weight"
    weight_branches = [b for b in (default_weight if default_weight in names else None, weight) if b]
    weight_branches = list(dict.fromkeys(weight_branches))  # --weight genWeight: once
    wanted += weight_branches
    missing = [b for b in wanted if b not in names]
    if missing:
        raise DataFormatError(f"{p}: tree {tree_name!r} lacks branch(es) {missing}")
    first = 0
    try:
        for chunk in uproot.iterate(f"{p}:{tree_name}", wanted + optional, step_size=step_size, library="ak"):
            n = len(chunk)
            _check_values(p, chunk, wanted, first)
            first += n
            w = np.ones(n)
            for branch in weight_branches:
                values = ak.to_numpy(
                    ak.flatten(chunk[branch], axis=None) if layout == "delphes" else chunk[branch]
                ).astype(np.float64)
                if len(values) != n:
                    raise DataFormatError(f"{p}: weight branch {branch!r} does not have one value per event")
                w = w * values
            if layout == "nanoaod":
                ele = _leptons(
                    chunk.Electron_pt,
                    chunk.Electron_eta,
                    chunk.Electron_phi,
                    chunk.Electron_mass,
                    chunk.Electron_charge,
                    11,
                )
                mu = _leptons(
                    chunk.Muon_pt, chunk.Muon_eta, chunk.Muon_phi, chunk.Muon_mass, chunk.Muon_charge, 13
                )
                jets = jet_records(
                    chunk.Jet_pt, chunk.Jet_eta, chunk.Jet_phi, chunk.Jet_mass, chunk[btag] > BTAG_THRESHOLD
                )
                ele, mu, jets = _with_nano_ids(chunk, ele, mu, jets, btag)
            else:
                e = chunk["Electron.PT"]
                ele = _leptons(
                    e,
                    chunk["Electron.Eta"],
                    chunk["Electron.Phi"],
                    ak.zeros_like(e) + 0.000511,
                    chunk["Electron.Charge"],
                    11,
                )
                m = chunk["Muon.PT"]
                mu = _leptons(
                    m,
                    chunk["Muon.Eta"],
                    chunk["Muon.Phi"],
                    ak.zeros_like(m) + 0.10566,
                    chunk["Muon.Charge"],
                    13,
                )
                jets = jet_records(
                    chunk["Jet.PT"],
                    chunk["Jet.Eta"],
                    chunk["Jet.Phi"],
                    chunk["Jet.Mass"],
                    chunk["Jet.BTag"] > 0,
                )
            yield _model(ele, mu, jets, w)
    except DataFormatError:
        raise
    except Exception as exc:  # uproot: OSError, ValueError, DeserializationError, zlib errors ...
        reason = " ".join(str(exc).split())[:300]
        raise DataFormatError(
            f"{p}: cannot read events ({type(exc).__name__}: {reason}); the file is truncated or corrupt"
        ) from None
