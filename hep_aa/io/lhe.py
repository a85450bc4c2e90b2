"""Les Houches event files (MadGraph/SMEFTsim, Pythia) via pylhe, gzip or plain: read and write.

Two views of a file:

- :func:`load_lhe` gives the whole parton-level record (every particle line with its status
  and mothers), the nominal event weight XWGTUP and every named weight (``<rwgt><wgt id=...>``,
  MadGraph reweighting, e.g. a SMEFTsim scan) by id, with the descriptions of the header's
  ``<initrwgt>`` block. :mod:`hep_aa.features.higgs` builds parton-level Higgs features from it
  and ``hep-aa features higgs`` turns each named weight into a hypothesis.
- :func:`read_lhe` gives the common lepton/jet event model at parton level: outgoing
  (status 1) electrons and muons are the leptons; outgoing quarks and gluons the jets, with
  ``btag`` = 1 for b quarks.

:func:`write_lhe` writes a MadGraph-style LHEF 3.0 file (``<initrwgt>`` with one
``<weightgroup>``, per-event ``<rwgt>``), atomically.
"""

from __future__ import annotations

import gzip
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import awkward as ak
import numpy as np

from hep_aa.exceptions import DataFormatError

__all__ = ["NOMINAL", "LHEEvents", "load_lhe", "read_lhe", "weight_names", "write_lhe"]

#: Name of the nominal event weight (XWGTUP of each ``<event>``) where a weight id is expected.
NOMINAL = "XWGTUP"

#: Particle fields of :attr:`LHEEvents.particles` (LHE columns; mothers 1-based, 0 = none).
PARTICLE_FIELDS = ("id", "status", "mother1", "mother2", "color1", "color2", "px", "py", "pz", "e", "m")


@dataclass(frozen=True)
class LHEEvents:
    """All events of one LHE file.

    Attributes
    ----------
    path : Path
    particles : ak.Array
        One list of particle records per event, fields :data:`PARTICLE_FIELDS` (LHE status:
        −1 incoming, 1 outgoing, 2 intermediate resonance; ``mother1``/``mother2`` are 1-based
        line numbers within the event, 0 = none).
    weight : ndarray of float64
        The event weight XWGTUP (may be negative, e.g. NLO).
    weights : dict of str to ndarray
        Named weights by id, in the order of the header (``<initrwgt>``) or of the first event.
    weight_info : dict of str to str
        The header's description of each id (e.g. ``set param_card cHW 0.2``), "" when none.
    weight_groups : dict of str to list of str
        ``<weightgroup>`` name (or type) → its ids.
    beams : tuple
        (IDBMUP1, IDBMUP2, EBMUP1, EBMUP2) of ``<init>``.
    weighting_strategy : int
        IDWTUP of ``<init>``.
    """

    path: Path
    particles: ak.Array
    weight: np.ndarray
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    weight_info: dict[str, str] = field(default_factory=dict)
    weight_groups: dict[str, list[str]] = field(default_factory=dict)
    beams: tuple[int, int, float, float] = (2212, 2212, 6500.0, 6500.0)
    weighting_strategy: int = 0

    def __len__(self) -> int:
        return len(self.weight)

    @property
    def sqrt_s(self) -> float:
        """Collider energy √s = EBMUP1 + EBMUP2 [GeV] (head-on beams)."""
        return float(self.beams[2] + self.beams[3])

    def available(self) -> list[str]:
        """:data:`NOMINAL` and every named weight id."""
        return [NOMINAL, *self.weights]

    def hypothesis(self, name: str) -> np.ndarray:
        """The weights of hypothesis ``name``: a weight id or :data:`NOMINAL` (XWGTUP).

        Raises
        ------
        DataFormatError
            One line naming the file and listing the available ids.
        """
        if name in self.weights:
            return self.weights[name]
        if name == NOMINAL:
            return self.weight
        ids = list(self.weights)
        shown = ", ".join(ids[:40]) + (f", ... ({len(ids)} in all)" if len(ids) > 40 else "")
        raise DataFormatError(
            f"{self.path}: no weight named {name!r}; available: {NOMINAL} (the event weight)"
            + (f", {shown}" if ids else " only (the file has no <rwgt> weights)")
        )


def _header_weights(lhef: object) -> tuple[list[str], dict[str, str], dict[str, list[str]]]:
    """Ids, descriptions and groups of the ``<initrwgt>`` block (empty without one)."""
    header = getattr(lhef, "header", None)
    if header is None:
        return [], {}, {}
    ids: list[str] = []
    info: dict[str, str] = {}
    groups: dict[str, list[str]] = {}
    for entry in header.initrwgt.entries:
        members = getattr(entry, "weights", None)
        if members is None:  # a <weight> outside any group
            members, group = [entry], ""
        else:
            group = entry.name or entry.extra_attributes.get("type", "")
        for w in members:
            ids.append(w.id)
            info[w.id] = " ".join((w.name or "").split())
            groups.setdefault(group, []).append(w.id)
    return ids, info, groups


def _collect(
    p: Path,
    stream: object,
    header_ids: list[str],
    counts: list[int],
    rows: list[tuple[float, ...]],
    nominal: list[float],
    named: list[list[float]],
    ids: list[str],
) -> None:
    """Append every event of pylhe's ``stream`` to the lists (``ids`` is filled from event 0)."""
    for number, event in enumerate(stream):  # type: ignore[attr-defined]
        nominal.append(float(event.eventinfo.weight))
        counts.append(len(event.particles))
        rows.extend(
            (q.id, q.status, q.mother1, q.mother2, q.color1, q.color2, q.px, q.py, q.pz, q.e, q.m)
            for q in event.particles
        )
        w = event.weights or {}
        if number == 0 and w:  # the header's ids (all of them) and any extra of the events
            ids[:] = header_ids + [i for i in w if i not in set(header_ids)]
        if len(w) != len(ids) or any(i not in w for i in ids):
            missing = [i for i in ids if i not in w][:5]
            extra = [i for i in w if i not in set(ids)][:5]
            raise DataFormatError(
                f"{p}: event {number} has named weights that differ from the header's and the first event's "
                f"(missing {missing}, extra {extra}); every event must carry the same <wgt> ids"
            )
        named.append([w[i] for i in ids])


def load_lhe(path: str | os.PathLike[str]) -> LHEEvents:
    """Every event of an LHE file (plain or gzip) with its named weights.

    pylhe reports a truncated file (``Parse Error: no element found``) only as a
    ``RuntimeWarning`` and returns the events read so far: a file cut at 30 % would silently
    give 30 % of the events. Here every warning while parsing raises :class:`DataFormatError`.

    Raises
    ------
    DataFormatError
        Missing, truncated or malformed file; no events; NaN/Inf momenta or weights; an event
        whose named weights differ from the others'.
    """
    import pylhe

    p = Path(path)
    if not p.is_file():
        raise DataFormatError(f"{p}: file not found")
    counts: list[int] = []
    rows: list[tuple[float, ...]] = []
    nominal: list[float] = []
    named: list[list[float]] = []
    ids: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            lhef = pylhe.LHEFile.fromfile(str(p))
            header_ids, info, groups = _header_weights(lhef)
            init = lhef.init.initInfo
            beams = (int(init.beamA), int(init.beamB), float(init.energyA), float(init.energyB))
            strategy = int(init.weightingStrategy)
            stream = lhef.events
            try:
                _collect(p, stream, header_ids, counts, rows, nominal, named, ids)
            finally:  # an error mid-file must not leave pylhe's file handle open
                close = getattr(stream, "close", None)
                if close is not None:
                    close()
    except DataFormatError:
        raise
    except Warning as exc:
        reason = " ".join(str(exc).split())
        raise DataFormatError(
            f"{p}: LHE file is truncated or malformed ({reason}); re-generate or re-download it"
        ) from None
    except Exception as exc:  # pylhe raises XML/parse errors of several types
        reason = " ".join(str(exc).split())
        raise DataFormatError(f"{p}: not a readable LHE file ({type(exc).__name__}: {reason})") from None
    if not counts:
        raise DataFormatError(f"{p}: the LHE file holds no <event> blocks")
    table = np.array(rows, dtype=np.float64).reshape(-1, len(PARTICLE_FIELDS))
    for col, name in enumerate(PARTICLE_FIELDS[6:], start=6):
        if not np.all(np.isfinite(table[:, col])):
            raise DataFormatError(
                f"{p}: NaN/Inf in particle momentum component {name!r}; the file is corrupt"
            )
    cols = {
        name: table[:, i].astype(np.int64) if i < 6 else table[:, i] for i, name in enumerate(PARTICLE_FIELDS)
    }
    particles = ak.unflatten(ak.zip(cols), np.asarray(counts, dtype=np.int64))
    weight = np.asarray(nominal, dtype=np.float64)
    values = np.asarray(named, dtype=np.float64).reshape(len(counts), len(ids))
    for label, w in ((f"event weight {NOMINAL}", weight[:, None]), ("named weight", values)):
        bad = ~np.isfinite(w)
        if bad.any():
            rows_bad, cols_bad = np.nonzero(bad)
            which = label if label.startswith("event") else f"weight {ids[int(cols_bad[0])]!r}"
            raise DataFormatError(
                f"{p}: NaN/Inf in the {which} of event(s) {sorted(set(rows_bad.tolist()))[:5]}; the file is corrupt"
            )
    return LHEEvents(
        path=p,
        particles=particles,
        weight=weight,
        weights={i: values[:, k].copy() for k, i in enumerate(ids)},
        weight_info={i: info.get(i, "") for i in ids},
        weight_groups={g: [i for i in members if i in set(ids)] for g, members in groups.items()},
        beams=beams,
        weighting_strategy=strategy,
    )


def weight_names(path: str | os.PathLike[str]) -> list[str]:
    """Ids of the named weights of an LHE file (empty when it has none)."""
    return list(load_lhe(path).weights)


def read_lhe(path: str | os.PathLike[str], *, weight: str | None = None) -> ak.Array:
    """Read an LHE file into the common event model (``leptons``, ``jets``, ``weight``).

    Parameters
    ----------
    weight : str, optional
        Id of a named weight (``<wgt id=...>``); default: the event's XWGTUP.
    """
    import vector

    vector.register_awkward()
    p = Path(path)
    events = load_lhe(p)
    if weight is not None and weight not in events.weights:
        names = list(events.weights)
        raise DataFormatError(
            f"{p}: no weight named {weight!r}; available: {names[:10]}{' ...' if len(names) > 10 else ''}"
        )
    prt = events.particles
    out = prt[prt.status == 1]
    p4 = ak.zip({"px": out.px, "py": out.py, "pz": out.pz, "E": out.e}, with_name="Momentum4D")
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
    w = events.weight if weight is None else events.weights[weight]
    leptons = leptons[ak.argsort(leptons.pt, axis=1, ascending=False)]
    return ak.zip({"leptons": leptons, "jets": jets, "weight": w}, depth_limit=1)


_ID = re.compile(r"^[A-Za-z0-9_.+\-]+$")


def write_lhe(
    path: str | os.PathLike[str],
    particles: ak.Array,
    weight: np.ndarray,
    *,
    weights: Mapping[str, np.ndarray] | None = None,
    weight_info: Mapping[str, str] | None = None,
    group: str = "mg_reweighting",
    beams: tuple[int, int, float, float] = (2212, 2212, 6500.0, 6500.0),
    pdf_set: int = 247000,
    weighting_strategy: int = 3,
    cross_section_pb: tuple[float, float] | None = None,
    process_id: int = 1,
    scale: np.ndarray | float = 91.1876,
    alpha_qed: float = 1.0 / 132.5,
    alpha_qcd: np.ndarray | float = 0.118,
    note: str | Sequence[str] = (),
) -> Path:
    """Write events as a MadGraph-style LHEF 3.0 file (gzip when ``path`` ends in ``.gz``), atomically.

    Parameters
    ----------
    particles : ak.Array
        One list of particle records per event with the fields :data:`PARTICLE_FIELDS` (LHE
        status and 1-based mothers); ``lifetime`` and ``spin`` are written as 0 and 9.
    weight : ndarray
        XWGTUP of each event.
    weights : mapping of str to ndarray, optional
        Named weights (MadGraph reweighting): one ``<weight id=...>`` per id in
        ``<initrwgt><weightgroup name=GROUP>`` and one ``<wgt id=...>`` per event in ``<rwgt>``.
    weight_info : mapping of str to str, optional
        Text of each ``<weight>`` element (e.g. ``set param_card czz 0.2``).
    cross_section_pb : (float, float), optional
        XSECUP and XERRUP of ``<init>``; default: the sum of XWGTUP and its statistical error.
    note : str or sequence of str
        Provenance lines written as an XML comment in the header.

    Returns
    -------
    Path
        ``path``.
    """
    from hep_aa.io.artifacts import atomic_path

    target = Path(path)
    weight = np.asarray(weight, dtype=np.float64)
    n = len(particles)
    weights = {str(k): np.asarray(v, dtype=np.float64) for k, v in (weights or {}).items()}
    if weight.shape != (n,) or any(v.shape != (n,) for v in weights.values()):
        raise ValueError(f"{target}: every weight array must have one value per event ({n})")
    bad_ids = [k for k in weights if not _ID.match(k)]
    if bad_ids:
        raise ValueError(f"{target}: weight ids {bad_ids} must be made of letters, digits and _ . + -")
    if not all(np.isfinite(v).all() for v in (weight, *weights.values())):
        raise ValueError(f"{target}: NaN/Inf weights cannot be written")
    missing = [f for f in PARTICLE_FIELDS if f not in particles.fields]
    if missing:
        raise ValueError(f"{target}: particle records lack the field(s) {missing}")
    counts = ak.to_numpy(ak.num(particles, axis=1))
    flat = {f: ak.to_numpy(ak.flatten(particles[f])) for f in PARTICLE_FIELDS}
    scale_arr = np.broadcast_to(np.asarray(scale, dtype=np.float64), (n,))
    aqcd_arr = np.broadcast_to(np.asarray(alpha_qcd, dtype=np.float64), (n,))
    if cross_section_pb is None:
        cross_section_pb = (float(weight.sum()), float(np.sqrt((weight**2).sum())))
    info = dict(weight_info or {})
    notes = [note] if isinstance(note, str) else list(note)
    out = ['<LesHouchesEvents version="3.0">', "<header>"]
    out += [f"<!-- {escape(line).replace('--', '- -')} -->" for line in notes]
    if weights:
        out.append("<initrwgt>")
        out.append(f"<weightgroup name='{escape(group)}' weight_name_strategy='includeIdInWeightName'>")
        out += [f"<weight id='{k}'> {escape(info.get(k, ''))} </weight>" for k in weights]
        out += ["</weightgroup>", "</initrwgt>"]
    out += [
        "</header>",
        "<init>",
        f"{beams[0]} {beams[1]} {beams[2]:.8e} {beams[3]:.8e} 0 0 {pdf_set} {pdf_set} {weighting_strategy} 1",
        f" {cross_section_pb[0]:.8e} {cross_section_pb[1]:.8e} {float(np.abs(weight).max()):.8e} {process_id}",
        "</init>",
    ]
    ids = list(weights)
    matrix = np.column_stack([weights[k] for k in ids]) if ids else np.empty((n, 0))
    starts = np.concatenate([[0], np.cumsum(counts)])
    for i in range(n):
        out.append("<event>")
        out.append(
            f" {counts[i]:d} {process_id:d} {weight[i]:+.10e} {scale_arr[i]:.8e} {alpha_qed:.8e} {aqcd_arr[i]:.8e}"
        )
        for j in range(starts[i], starts[i + 1]):
            out.append(
                f" {int(flat['id'][j]):>8d} {int(flat['status'][j]):>2d} {int(flat['mother1'][j]):>4d} "
                f"{int(flat['mother2'][j]):>4d} {int(flat['color1'][j]):>4d} {int(flat['color2'][j]):>4d} "
                f"{flat['px'][j]:+.10e} {flat['py'][j]:+.10e} {flat['pz'][j]:+.10e} {flat['e'][j]:.10e} "
                f"{flat['m'][j]:.10e} 0.0000e+00 9.0000e+00"
            )
        if ids:
            out.append("<rwgt>")
            out += [f"<wgt id='{k}'> {matrix[i, c]:+.8e} </wgt>" for c, k in enumerate(ids)]
            out.append("</rwgt>")
        out.append("</event>")
    out.append("</LesHouchesEvents>\n")
    text = "\n".join(out).encode()
    with atomic_path(target) as tmp:
        if target.suffix == ".gz":
            with gzip.open(tmp, "wb") as fh:
                fh.write(text)
        else:
            tmp.write_bytes(text)
    return target
