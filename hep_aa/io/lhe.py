"""Les Houches event files (MadGraph/SMEFTsim, Pythia) via pylhe, gzip or plain.

Events become the common lepton/jet model at parton level: outgoing (status 1) electrons and
muons are the leptons; outgoing quarks and gluons the jets, with ``btag`` = 1 for b quarks.
Named reweighting weights (``<rwgt><wgt id="...">``) are available by id, so a user can pick a
Wilson-coefficient point by name.
"""

from __future__ import annotations

import os
from pathlib import Path

import awkward as ak
import numpy as np

from hep_aa.exceptions import DataFormatError

__all__ = ["read_lhe", "weight_names"]


def _load(path: Path) -> ak.Array:
    import pylhe

    if not path.is_file():
        raise DataFormatError(f"{path}: file not found")
    try:
        return pylhe.to_awkward(pylhe.LHEFile.fromfile(str(path)).events)
    except Exception as exc:  # pylhe raises XML/parse errors of several types
        raise DataFormatError(f"{path}: not a readable LHE file ({type(exc).__name__}: {exc})") from None


def weight_names(path: str | os.PathLike[str]) -> list[str]:
    """Ids of the named weights of an LHE file (empty when it has none)."""
    events = _load(Path(path))
    if "weights" not in events.fields or len(events) == 0:
        return []
    return list(events.weights.fields)


def read_lhe(path: str | os.PathLike[str], *, weight: str | None = None) -> ak.Array:
    """Read an LHE file into the common event model (``leptons``, ``jets``, ``weight``).

    Parameters
    ----------
    weight : str, optional
        Id of a named weight (``<wgt id=...>``); default: the event's XWGTUP.
    """
    p = Path(path)
    events = _load(p)
    prt = events.particles
    out = prt[prt.status == 1]
    vec = out.vector
    import vector

    vector.register_awkward()
    p4 = ak.zip({"px": vec.px, "py": vec.py, "pz": vec.pz, "E": vec.e}, with_name="Momentum4D")
    aid = abs(out.id)
    is_lep = (aid == 11) | (aid == 13)
    is_jet = (aid <= 5) | (aid == 21)
    charge = ak.where(out.id > 0, -1, 1)
    lep = p4[is_lep]
    leptons = ak.zip(
        {
            "pt": lep.pt,
            "eta": lep.eta,
            "phi": lep.phi,
            "mass": lep.mass,
            "charge": ak.values_astype(charge[is_lep], np.int32),
            "pdgId": ak.values_astype(out.id[is_lep], np.int32),
        }
    )
    jet = p4[is_jet]
    jets = ak.zip(
        {
            "pt": jet.pt,
            "eta": jet.eta,
            "phi": jet.phi,
            "mass": jet.mass,
            "btag": ak.values_astype(aid[is_jet] == 5, np.float64),
        }
    )
    if weight is None:
        w = ak.to_numpy(events.eventinfo.weight).astype(np.float64)
    else:
        names = list(events.weights.fields) if "weights" in events.fields else []
        if weight not in names:
            raise DataFormatError(
                f"{p}: no weight named {weight!r}; available: {names[:10]}{' ...' if len(names) > 10 else ''}"
            )
        w = ak.to_numpy(events.weights[weight]).astype(np.float64)
    leptons = leptons[ak.argsort(leptons.pt, axis=1, ascending=False)]
    return ak.zip({"leptons": leptons, "jets": jets, "weight": w}, depth_limit=1)
