"""Z h (Z → ℓℓ, h → b b̄) kinematic features from a common event model.

Every reader (generated NanoAOD-like ROOT, real NanoAOD, Delphes, LHE at parton level) hands
this module the same awkward event model:

- ``leptons``: records ``pt, eta, phi, mass, charge, pdgId`` (electrons and muons);
- ``jets``: records ``pt, eta, phi, mass, btag`` (btag 1/0; b quarks for LHE);
- ``weight``: one event weight (1 when the file carries none);
- optional quality fields (``leptons.id``, ``leptons.iso``, ``jets.btag_score``,
  ``jets.jet_id``) used by the object selection.

Objects are first selected with :func:`hep_aa.features.selection.select_objects` (lepton
ID/isolation, jet pT/η/ID, jet–lepton ΔR cleaning, b-tag working point). Candidates: the Z is the opposite-sign same-flavour lepton pair with mass nearest m_Z; the h
is the two leading b-tagged jets, or the two leading jets when fewer than two are b-tagged
(``h_fallback`` = 1). Events without an OSSF pair or with fewer than two jets are dropped
and counted (``kept`` mask). Features per event (GeV, radians):

``pt_z, eta_z, pt_h, eta_h, m_bb, m_zh, pt_zh, dphi_zh, dr_bb, dr_ll, cos_theta_cs, phi_cs``

with the lepton (ℓ⁻) Collins–Soper angles in the Z rest frame. The kinematics use only
arithmetic, NumPy ufuncs and awkward functions, so :func:`vh_candidates` runs unchanged on
eager awkward arrays and on dask-awkward collections (coffea's ``mode="dask"``).

:func:`hard_process_features` works on the parton-level record of an LHE file instead (any
production mode: h, tag jets, V, V decay; :data:`HIGGS_GROUPS`), for ``hep-aa features higgs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np

from hep_aa.features.selection import ObjectSelection, select_objects

__all__ = [
    "CUTFLOW_STEPS",
    "HIGGS_GROUPS",
    "VH_FEATURES",
    "HardProcessFeatures",
    "VHFeatures",
    "boost",
    "collins_soper",
    "hard_process_features",
    "vh_candidates",
    "vh_features",
]

M_Z = 91.1876
VH_FEATURES = (
    "pt_z",
    "eta_z",
    "pt_h",
    "eta_h",
    "m_bb",
    "m_zh",
    "pt_zh",
    "dphi_zh",
    "dr_bb",
    "dr_ll",
    "cos_theta_cs",
    "phi_cs",
)


def _boost4(e: Any, px: Any, py: Any, pz: Any, bx: Any, by: Any, bz: Any) -> tuple[Any, Any, Any, Any]:
    """Boost four-momentum components by the velocity (bx, by, bz), componentwise.

    Only arithmetic and NumPy ufuncs: works on NumPy, awkward and dask-awkward arrays alike.
    (γ − 1)/β² is written γ²/(γ + 1), which has no 0/0 at β = 0.
    """
    b2 = bx * bx + by * by + bz * bz
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = bx * px + by * py + bz * pz
    k = gamma * gamma / (gamma + 1.0) * bp + gamma * e
    return gamma * (e + bp), px + k * bx, py + k * by, pz + k * bz


def boost(p: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Boost (E, px, py, pz) rows of ``p`` by velocities ``beta`` of shape (n, 3)."""
    return np.column_stack(_boost4(p[:, 0], p[:, 1], p[:, 2], p[:, 3], beta[:, 0], beta[:, 1], beta[:, 2]))


def _unit(x: Any, y: Any, z: Any) -> tuple[Any, Any, Any]:
    n = np.sqrt(x * x + y * y + z * z)
    return x / n, y / n, z / n


def _collins_soper(lm: tuple[Any, ...], lp: tuple[Any, ...], sqrt_s: float) -> tuple[Any, Any]:
    """Componentwise Collins–Soper angles; ``lm``, ``lp`` are (E, px, py, pz) tuples."""
    qe, qx, qy, qz = (a + b for a, b in zip(lm, lp, strict=True))
    bx, by, bz = -qx / qe, -qy / qe, -qz / qe
    e_beam = sqrt_s / 2
    zero = 0.0 * qe
    _, b1x, b1y, b1z = _boost4(zero + e_beam, zero, zero, zero + e_beam, bx, by, bz)
    _, b2x, b2y, b2z = _boost4(zero + e_beam, zero, zero, zero - e_beam, bx, by, bz)
    b1x, b1y, b1z = _unit(b1x, b1y, b1z)
    b2x, b2y, b2z = _unit(b2x, b2y, b2z)
    sign = 2.0 * (qz >= 0) - 1.0
    zx, zy, zz = _unit(b1x - b2x, b1y - b2y, b1z - b2z)
    zx, zy, zz = sign * zx, sign * zy, sign * zz
    xx, xy, xz = -(b1x + b2x), -(b1y + b2y), -(b1z + b2z)
    dot = xx * zx + xy * zy + xz * zz
    xx, xy, xz = xx - dot * zx, xy - dot * zy, xz - dot * zz
    norm = np.sqrt(xx * xx + xy * xy + xz * xz)
    degenerate = norm <= 1e-12  # pair at rest transversely: any x axis ⟂ z will do
    safe = norm + degenerate
    xx, xy, xz = xx / safe + degenerate, xy / safe, xz / safe
    yx, yy, yz = zy * xz - zz * xy, zz * xx - zx * xz, zx * xy - zy * xx
    _, lx, ly, lz = _boost4(*lm, bx, by, bz)
    lx, ly, lz = _unit(lx, ly, lz)
    cos = lx * zx + ly * zy + lz * zz
    return cos, np.arctan2(lx * yx + ly * yy + lz * yz, lx * xx + ly * xy + lz * xz)


def collins_soper(
    l_minus: np.ndarray, l_plus: np.ndarray, sqrt_s: float = 13000.0
) -> tuple[np.ndarray, np.ndarray]:
    """cos θ and φ of ℓ⁻ in the Collins–Soper frame of the pair (z axis along the bisector of
    the beams in the pair rest frame, oriented along the pair's longitudinal direction)."""
    return _collins_soper(tuple(l_minus.T), tuple(l_plus.T), sqrt_s)


def _flat(x: Any) -> Any:
    """A flat eager awkward array as NumPy (same values, far cheaper arithmetic); typetracer
    and dask-awkward arrays are returned as they are."""
    if isinstance(x, ak.Array) and ak.backend(x) == "cpu":
        return np.asarray(ak.to_numpy(x))
    return x


def _where(cond: Any, a: Any, b: Any) -> Any:
    return np.where(cond, a, b) if isinstance(a, np.ndarray) else ak.where(cond, a, b)


def _p4(rec: Any, dummy_phi: float | None = None) -> tuple[Any, Any, Any, Any]:
    """(E, px, py, pz) of records with ``pt, eta, phi, mass`` (float64).

    With ``dummy_phi``, missing records (events without a candidate) get finite placeholder
    kinematics (pT 1 GeV at η 0, φ ``dummy_phi``); the caller masks those events at the end.
    Flat, non-optional arrays keep every later operation cheap (awkward's option handling
    costs more than the arithmetic) and free of 0/0 warnings.
    """
    pt = ak.values_astype(rec.pt, np.float64)
    eta = ak.values_astype(rec.eta, np.float64)
    phi = ak.values_astype(rec.phi, np.float64)
    mass = ak.values_astype(rec.mass, np.float64)
    if dummy_phi is not None:
        pt, eta = _flat(ak.fill_none(pt, 1.0)), _flat(ak.fill_none(eta, 0.0))
        phi, mass = _flat(ak.fill_none(phi, dummy_phi)), _flat(ak.fill_none(mass, 0.0))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return np.sqrt(px * px + py * py + pz * pz + mass * mass), px, py, pz


def _add(a: tuple[Any, ...], b: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(x + y for x, y in zip(a, b, strict=True))


def _mass(p: tuple[Any, ...]) -> Any:
    e, px, py, pz = p
    m2 = e * e - px * px - py * py - pz * pz
    return np.sqrt(m2 * (m2 > 0))


def _pt(p: tuple[Any, ...]) -> Any:
    return np.hypot(p[1], p[2])


def _eta(p: tuple[Any, ...]) -> Any:
    pt = _pt(p)
    return np.arcsinh(p[3] / (pt + (pt == 0) * 1e300))  # η = 0 at pT = 0, no 0/0


def _phi(p: tuple[Any, ...]) -> Any:
    return np.arctan2(p[2], p[1])


def _dphi(a: Any, b: Any) -> Any:
    return (a - b + np.pi) % (2 * np.pi) - np.pi


#: Cumulative selection steps of :func:`vh_candidates` (keys of its cutflow).
CUTFLOW_STEPS = ("two selected leptons", "Z candidate (OSSF pair)", "two selected jets")


def vh_candidates(events: Any, selection: ObjectSelection | None = None) -> tuple[Any, dict[str, Any]]:
    """Z and h candidates and their features, aligned with ``events`` (lazy-friendly).

    Parameters
    ----------
    events : ak.Array or dask_awkward.Array
        The common event model (module docstring).
    selection : ObjectSelection, optional
        Object selection (:data:`~hep_aa.features.selection.DEFAULT_SELECTION` when None).

    Returns
    -------
    features : same array type as ``events``, one record per event
        Fields :data:`VH_FEATURES`, ``h_fallback`` and ``weight``; None where the event has
        no Z or no h candidate.
    steps : dict of str to boolean array
        :data:`CUTFLOW_STEPS`, cumulative, one entry per event (for cutflows).
    """
    events = select_objects(events, selection)
    leptons = events.leptons
    pairs = ak.combinations(leptons, 2, fields=["a", "b"])
    ossf = (abs(pairs.a.pdgId) == abs(pairs.b.pdgId)) & (pairs.a.charge * pairs.b.charge < 0)
    pairs = pairs[ossf]
    mll = _mass(_add(_p4(pairs.a), _p4(pairs.b)))
    best = ak.argmin(abs(mll - M_Z), axis=1, keepdims=True)
    zpair = ak.firsts(pairs[best])
    jets = events.jets[ak.argsort(events.jets.pt, axis=1, ascending=False)]
    bjets = jets[jets.btag > 0.5]
    use_b = ak.num(bjets, axis=1) >= 2
    hjets = ak.pad_none(ak.where(use_b, bjets[:, :2], jets[:, :2]), 2, axis=1)
    two_leptons = ak.num(leptons, axis=1) >= 2
    has_z = two_leptons & ~ak.is_none(zpair)
    kept = has_z & (ak.num(jets, axis=1) >= 2)
    steps = dict(zip(CUTFLOW_STEPS, (two_leptons, has_z, kept), strict=True))
    zpair = ak.mask(zpair, kept)
    minus_first = _flat(ak.fill_none(zpair.a.charge < 0, True))
    pa, pb = _p4(zpair.a, 0.0), _p4(zpair.b, 2.0)
    l_minus = tuple(_where(minus_first, a, b) for a, b in zip(pa, pb, strict=True))
    l_plus = tuple(_where(minus_first, b, a) for a, b in zip(pa, pb, strict=True))
    j1, j2 = _p4(ak.mask(hjets[:, 0], kept), 1.0), _p4(ak.mask(hjets[:, 1], kept), 3.0)
    z, h = _add(l_minus, l_plus), _add(j1, j2)
    zh = _add(z, h)
    cos_cs, phi_cs = _collins_soper(l_minus, l_plus, 13000.0)
    weight = ak.values_astype(events.weight, np.float64) if "weight" in events.fields else 1.0 + 0.0 * z[0]
    cols = {
        "pt_z": _pt(z),
        "eta_z": _eta(z),
        "pt_h": _pt(h),
        "eta_h": _eta(h),
        "m_bb": _mass(h),
        "m_zh": _mass(zh),
        "pt_zh": _pt(zh),
        "dphi_zh": abs(_dphi(_phi(z), _phi(h))),
        "dr_bb": np.hypot(_eta(j1) - _eta(j2), _dphi(_phi(j1), _phi(j2))),
        "dr_ll": np.hypot(_eta(l_minus) - _eta(l_plus), _dphi(_phi(l_minus), _phi(l_plus))),
        "cos_theta_cs": cos_cs,
        "phi_cs": phi_cs,
        "h_fallback": ak.values_astype(~use_b, np.int8),
        "weight": weight,
    }
    return ak.mask(ak.zip(cols), kept), steps


@dataclass(frozen=True)
class VHFeatures:
    """Features of the events that have a Z and an h candidate.

    Attributes
    ----------
    columns : dict of str to ndarray
        :data:`VH_FEATURES` plus ``h_fallback`` (1 when not both h jets are b-tagged) and
        ``weight``.
    kept : ndarray of bool, shape (n_events_in,)
    """

    columns: dict[str, np.ndarray]
    kept: np.ndarray

    @property
    def n_dropped(self) -> int:
        return int((~self.kept).sum())

    def matrix(self) -> np.ndarray:
        """Model inputs, shape (n_events, 12), columns :data:`VH_FEATURES`."""
        return np.column_stack([self.columns[c] for c in VH_FEATURES])


def vh_features(events: ak.Array, selection: ObjectSelection | None = None) -> VHFeatures:
    """Eager Z and h candidates and the features of the module docstring (NumPy columns).

    The same computation as :func:`vh_candidates`, keeping only the events with candidates.
    """
    feats, _ = vh_candidates(events, selection)
    kept = ~ak.to_numpy(ak.is_none(feats))
    feats = feats[kept]
    cols = {
        c: np.asarray(ak.to_numpy(feats[c]), dtype=np.int8 if c == "h_fallback" else np.float64)
        for c in (*VH_FEATURES, "h_fallback", "weight")
    }
    return VHFeatures(cols, kept)


# ---------------------------------------------------------------------------------------------
# parton-level Higgs features of any production mode (LHE records)
# ---------------------------------------------------------------------------------------------

#: Feature groups of :func:`hard_process_features` and their columns (GeV, radians).
HIGGS_GROUPS: dict[str, tuple[str, ...]] = {
    "h": ("pt_h", "y_h"),
    "jj": ("m_jj", "delta_eta_jj", "delta_phi_jj"),
    "v": ("pt_v", "y_v"),
    "vh": ("m_vh", "pt_vh", "dphi_vh"),
    "v_decay": ("cos_theta_cs", "phi_cs", "dr_ff"),
}

_PARTON = (1, 2, 3, 4, 5, 21)
_LEPTON = (11, 12, 13, 14, 15, 16)


@dataclass(frozen=True)
class HardProcessFeatures:
    """Parton-level features of a set of LHE events.

    Attributes
    ----------
    columns : dict of str to ndarray
        The columns of every group in :attr:`groups`, one value per event (no event dropped).
    groups : tuple of str
        Groups of :data:`HIGGS_GROUPS` present in *every* event.
    counts : dict of str to int
        Events that have each group's objects (h, two tag jets, V, V decay pair, V and h).
    """

    columns: dict[str, np.ndarray]
    groups: tuple[str, ...]
    counts: dict[str, int]

    @property
    def names(self) -> list[str]:
        return [c for g in self.groups for c in HIGGS_GROUPS[g]]

    def matrix(self) -> np.ndarray:
        return np.column_stack([self.columns[c] for c in self.names])


def _padded(x: Any, width: int, fill: float) -> np.ndarray:
    return np.asarray(ak.to_numpy(ak.fill_none(ak.pad_none(x, width, axis=1, clip=True), fill)))


def _descends(mother: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(n, P) mask: the particle's ``mother1`` chain reaches line ``target`` (0-based; −1 = none).

    At most P steps, so a malformed circular record cannot loop forever.
    """
    out = np.zeros(mother.shape, dtype=bool)
    cur = mother.copy()
    tgt = target[:, None]
    for _ in range(mother.shape[1]):
        valid = cur >= 0
        if not valid.any():
            break
        out |= valid & (cur == tgt) & (tgt >= 0)
        cur = np.where(valid, np.take_along_axis(mother, np.where(valid, cur, 0), axis=1), -1)
    return out


def _first(mask: np.ndarray) -> np.ndarray:
    """Index of the first True per row, −1 where none."""
    return np.where(mask.any(axis=1), mask.argmax(axis=1), -1)


def _rapidity(p: tuple[Any, ...]) -> Any:
    e, _, _, pz = p
    return 0.5 * np.log((e + pz) / (e - pz))


def hard_process_features(particles: ak.Array, sqrt_s: float = 13000.0) -> HardProcessFeatures:
    """Parton-level Higgs features for any production mode (ggF, VBF, VH, ttH, ...).

    Parameters
    ----------
    particles : ak.Array
        LHE records per event (:attr:`hep_aa.io.lhe.LHEEvents.particles`: ``id``, ``status``,
        ``mother1`` (1-based), ``px, py, pz, e``).
    sqrt_s : float
        Collider energy (sets the beam axes of the Collins–Soper frame).

    Notes
    -----
    Objects (status 1 = outgoing, 2 = intermediate):

    - **h**: the first PDG-25 particle that is not incoming;
    - **V**: the first Z/W (PDG 23, ±24) that is not a descendant of the h (so h → ZZ*/WW*
      is not VH); without one, a V is built from exactly two outgoing leptons/neutrinos that
      are not h descendants, one fermion and one antifermion (Z → ℓℓ/νν, W → ℓν written
      without their resonance);
    - **V decay pair**: the two direct daughters of an explicit V, or the two leptons above;
      the Collins–Soper angles are those of the *fermion* (positive PDG id: ℓ⁻, ν, q) as in
      :func:`vh_candidates` for Z → ℓ⁻ℓ⁺;
    - **tag jets**: the two highest-pT outgoing quarks (d … b) and gluons that descend
      neither from the h nor from the V.

    A group of :data:`HIGGS_GROUPS` is returned when its objects exist in every event
    (``jj``: at least two tag jets; ``vh``: a V and an h), so a table has no missing values.
    ``delta_phi_jj`` = φ(j_fwd) − φ(j_bwd) in (−π, π], the jets ordered in rapidity (signed,
    sensitive to CP-odd hVV couplings); ``delta_eta_jj`` = |η₁ − η₂|; ``y`` are rapidities.
    """
    n = len(particles)
    width = int(ak.max(ak.num(particles, axis=1))) if n else 0
    pid = _padded(particles.id, width, 0).astype(np.int64)
    status = _padded(particles.status, width, 0).astype(np.int64)
    mother = _padded(particles.mother1, width, 0).astype(np.int64) - 1
    mom = tuple(_padded(particles[c], width, 0.0).astype(np.float64) for c in ("e", "px", "py", "pz"))
    real = status != 0
    rows = np.arange(n)
    aid = np.abs(pid)

    def take(idx: np.ndarray) -> tuple[np.ndarray, ...]:
        safe = np.where(idx >= 0, idx, 0)
        return tuple(c[rows, safe] for c in mom)

    h_idx = _first((pid == 25) & (status > 0))
    has_h = h_idx >= 0
    from_h = _descends(mother, h_idx)
    v_idx = _first(((aid == 23) | (aid == 24)) & (status > 0) & ~from_h)
    v_daughters = real & (mother == v_idx[:, None]) & (v_idx[:, None] >= 0)
    leptons = (status == 1) & np.isin(aid, _LEPTON) & ~from_h
    implicit = (v_idx < 0) & (leptons.sum(axis=1) == 2) & ((np.sign(pid) * leptons).sum(axis=1) == 0)
    pair_mask = np.where((v_idx >= 0)[:, None], v_daughters, leptons & implicit[:, None])
    has_pair = (pair_mask.sum(axis=1) == 2) & ((np.sign(pid) * pair_mask).sum(axis=1) == 0)
    has_v = (v_idx >= 0) | implicit
    fermion = _first(pair_mask & (pid > 0))
    antifermion = _first(pair_mask & (pid < 0))
    f, fbar = take(fermion), take(antifermion)
    v = tuple(np.where(v_idx >= 0, a, b + c) for a, b, c in zip(take(v_idx), f, fbar, strict=True))
    from_v = _descends(mother, v_idx)
    jets = (status == 1) & np.isin(aid, _PARTON) & ~from_h & ~from_v
    pt_all = np.hypot(mom[1], mom[2])
    order = np.argsort(np.where(jets, -pt_all, np.inf), axis=1, kind="stable")
    n_jets = jets.sum(axis=1)
    j1, j2 = take(np.where(n_jets >= 2, order[:, 0], -1)), take(np.where(n_jets >= 2, order[:, 1], -1))
    if n:
        # placeholder kinematics where an object is missing (that group is then not returned)
        dummy = (1.0, 1.0, 0.0, 0.0)
        j1 = tuple(np.where(n_jets >= 2, a, d) for a, d in zip(j1, dummy, strict=True))
        j2 = tuple(np.where(n_jets >= 2, a, d) for a, d in zip(j2, (1.0, 0.0, 1.0, 0.0), strict=True))
    h = take(h_idx)
    cols: dict[str, np.ndarray] = {}
    counts = {
        "h": int(has_h.sum()),
        "jj": int((n_jets >= 2).sum()),
        "v": int(has_v.sum()),
        "vh": int((has_v & has_h).sum()),
        "v_decay": int(has_pair.sum()),
    }
    groups = tuple(g for g in HIGGS_GROUPS if n and counts[g] == n)
    with np.errstate(all="ignore"):  # placeholder rows of absent groups only; dropped below
        cols["pt_h"], cols["y_h"] = _pt(h), _rapidity(h)
        cols["pt_v"], cols["y_v"] = _pt(v), _rapidity(v)
        vh = _add(v, h)
        cols["m_vh"], cols["pt_vh"] = _mass(vh), _pt(vh)
        cols["dphi_vh"] = np.abs(_dphi(_phi(v), _phi(h)))
        cols["m_jj"] = _mass(_add(j1, j2))
        eta1, eta2 = _eta(j1), _eta(j2)
        cols["delta_eta_jj"] = np.abs(eta1 - eta2)
        fwd = eta1 >= eta2
        cols["delta_phi_jj"] = _dphi(np.where(fwd, _phi(j1), _phi(j2)), np.where(fwd, _phi(j2), _phi(j1)))
        if "v_decay" in groups:
            cols["cos_theta_cs"], cols["phi_cs"] = _collins_soper(f, fbar, sqrt_s)
            cols["dr_ff"] = np.hypot(_eta(f) - _eta(fbar), _dphi(_phi(f), _phi(fbar)))
    kept = {c: np.asarray(cols[c], dtype=np.float64) for g in groups for c in HIGGS_GROUPS[g]}
    return HardProcessFeatures(kept, groups, counts)
