"""Les Houches event files (MadGraph/SMEFTsim, Pythia) via pylhe, gzip or plain.

Events become the common lepton/jet model at parton level: outgoing (status 1) electrons and
muons are the leptons; outgoing quarks and gluons the jets, with ``btag`` = 1 for b quarks.
Named reweighting weights (``<rwgt><wgt id="...">``) are available by id, so a user can pick a
Wilson-coefficient point by name.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import awkward as ak
import numpy as np

from hep_aa.exceptions import DataFormatError

__all__ = ["read_lhe", "weight_names"]


def _load(path: Path) -> ak.Array:
    """All events of an LHE file; any pylhe warning is an error.

    pylhe reports a truncated file (``Parse Error: no element found``) only as a
    ``RuntimeWarning`` and returns the events read so far: a file cut at 30 % would silently
    give 30 % of the events. Here every warning while parsing raises :class:`DataFormatError`.
    """
    import pylhe

    if not path.is_file():
        raise DataFormatError(f"{path}: file not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            events = pylhe.to_awkward(pylhe.LHEFile.fromfile(str(path)).events)
    except Warning as exc:
        reason = " ".join(str(exc).split())
        raise DataFormatError(
            f"{path}: LHE file is truncated or malformed ({reason}); re-generate or re-download it"
        ) from None
    except Exception as exc:  # pylhe raises XML/parse errors of several types
        reason = " ".join(str(exc).split())
        raise DataFormatError(f"{path}: not a readable LHE file ({type(exc).__name__}: {reason})") from None
    if len(events) == 0:
        raise DataFormatError(f"{path}: the LHE file holds no <event> blocks")
    return events


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
    for name in ("px", "py", "pz", "e"):
        values = ak.to_numpy(ak.flatten(prt.vector[name], axis=None))
        if not np.all(np.isfinite(values)):
            raise DataFormatError(
                f"{p}: NaN/Inf in particle momentum component {name!r}; the file is corrupt"
            )
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
    if not np.all(np.isfinite(w)):
        bad = np.flatnonzero(~np.isfinite(w))[:5].tolist()
        raise DataFormatError(
            f"{p}: NaN/Inf in the {'event weight XWGTUP' if weight is None else f'weight {weight!r}'} "
            f"of event(s) {bad}; the file is corrupt"
        )
    leptons = leptons[ak.argsort(leptons.pt, axis=1, ascending=False)]
    return ak.zip({"leptons": leptons, "jets": jets, "weight": w}, depth_limit=1)
