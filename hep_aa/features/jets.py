"""Large-R jet features of LHCO-like events: fastjet clustering and N-subjettiness, vectorised.

Per event: anti-kT R = 1.0 jets of the event's particles (fastjet's awkward interface, one C++
call per chunk), the two leading jets by pT, and per jet

- ``px, py, pz, pt, eta, phi, m`` (GeV),
- N-subjettiness τ1, τ2, τ3 as fastjet-contrib's ``Nsubjettiness(N, OnePass_KT_Axes(),
  NormalizedMeasure(β = 1, R0 = 1.0))`` (contrib's standard choice, also CMS's default): the
  official LHCO features file never has τ21 > 1, which un-minimised axes violate for 2.8 % of
  the real file's jets (56 of 2000) and one-pass axes for none:
  exclusive-kT seed axes (the constituents reclustered with kT at R = 1000, E-scheme, into N
  subjets) refined by contrib's one-pass minimisation (accuracy 1e-4, at most 1000 updates),
  τN = Σ_k pT,k · min_j ΔR(k, axis_j) / (Σ_k pT,k · R0), ΔR in (rapidity, φ); a jet with at
  most N constituents has τN = 0. ``nsubjettiness(..., axes="kt")`` keeps the un-minimised
  exclusive-kT axes,
- τ21 = τ2/τ1 and τ32 = τ3/τ2 (0 where the denominator is 0),

and per event ``mjj`` and ``delta_eta_jj``. Events with fewer than two jets are **dropped**
and counted (:attr:`JetFeatures.n_dropped`): every feature set here needs two jets.

Feature sets:

- ``official``: the 15 columns of ``events_anomalydetection_v2.features.h5`` (``pxj1 pyj1
  pzj1 mj1 tau1j1 tau2j1 tau3j1 pxj2 ... tau3j2``, GeV; j1 = leading-pT jet), ``label`` apart;
- ``community``: ``mjj, mj_min, delta_mj, tau21_jmin, tau21_jmax`` with masses in TeV, jets
  ordered by mass (j_min = lighter jet).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np

__all__ = [
    "FEATURE_SETS",
    "JetFeatures",
    "cluster_leading_jets",
    "feature_table",
    "jet_features",
    "nsubjettiness",
    "nsubjettiness_reference",
]

OFFICIAL = tuple(f"{q}j{i}" for i in (1, 2) for q in ("px", "py", "pz", "m", "tau1", "tau2", "tau3"))
COMMUNITY = ("mjj", "mj_min", "delta_mj", "tau21_jmin", "tau21_jmax")
FEATURE_SETS: dict[str, tuple[str, ...]] = {"official": OFFICIAL, "community": COMMUNITY}
UNITS = {"official": "GeV", "community": "TeV"}


def _vector() -> None:
    import vector

    vector.register_awkward()


def _fastjet() -> Any:
    """``fastjet`` with its 13-line banner (printed to stdout on the first clustering) silenced:
    the citation it asks for is in the docs (EPJC 72 (2012) 1896, arXiv:1111.6097)."""
    import fastjet

    global _BANNER_SILENCED
    if not _BANNER_SILENCED:
        # FastJet prints nothing when its banner stream is null (ClusterSequence::print_banner)
        fastjet._swig.ClusterSequence.set_fastjet_banner_stream(None)
        _BANNER_SILENCED = True
    return fastjet


_BANNER_SILENCED = False


def _to_pxpypze(particles: ak.Array) -> ak.Array:
    _vector()
    p = ak.with_name(particles, "Momentum4D")
    return ak.zip({"px": p.px, "py": p.py, "pz": p.pz, "E": p.E}, with_name="Momentum4D")


def cluster_leading_jets(
    particles: ak.Array, *, radius: float = 1.0, n_jets: int = 2
) -> tuple[ak.Array, ak.Array]:
    """Anti-kT jets of each event, the ``n_jets`` leading by pT, with their constituents.

    Parameters
    ----------
    particles : ak.Array of shape (n_events, var)
        Momentum4D-like records (``pt, eta, phi, mass`` or ``px, py, pz, E``).
    radius : float
        Jet radius R.
    n_jets : int
        Leading jets kept.

    Returns
    -------
    jets : ak.Array of shape (n_events, ≤ n_jets)
        Momentum4D (px, py, pz, E), sorted by decreasing pT.
    constituents : ak.Array of shape (n_events, ≤ n_jets, var)
        Momentum4D constituents of each kept jet.
    """
    fastjet = _fastjet()
    _vector()
    inputs = _to_pxpypze(particles)
    sequence = fastjet.ClusterSequence(inputs, fastjet.JetDefinition(fastjet.antikt_algorithm, radius))
    jets = ak.with_name(sequence.inclusive_jets(), "Momentum4D")
    constituents = ak.with_name(sequence.constituents(), "Momentum4D")
    order = ak.argsort(jets.pt, axis=1, ascending=False)[:, :n_jets]
    return jets[order], constituents[order]


def _rapidity(e: np.ndarray, pz: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return 0.5 * np.log((e + pz) / (e - pz))


def _exclusive_axes(jets: ak.Array, ns: list[int]) -> list[dict[str, np.ndarray]]:
    """px, py, pz, E of the n exclusive-kT axes of each jet, for each n in ``ns``, from one
    kT clustering history per jet; arrays of shape (n_jets, n)."""
    fastjet = _fastjet()
    kt = fastjet.JetDefinition(fastjet.kt_algorithm, 1000.0)
    sequence = fastjet.ClusterSequence(jets, kt)
    out = []
    with warnings.catch_warnings():
        # fastjet 3.5 compares the JetDefinition object with the algorithm enum, so it warns
        # even for kt, where exclusive jets are exactly what we want
        warnings.filterwarnings("ignore", message="dcut and exclusive jets", category=UserWarning)
        for n in ns:
            axes = sequence.exclusive_jets(n_jets=n)
            out.append({k: ak.to_numpy(ak.flatten(axes[k])).reshape(-1, n) for k in ("px", "py", "pz", "E")})
    return out


AXES = ("onepass_kt", "kt")
#: fastjet-contrib Nsubjettiness defaults of the one-pass minimisation (MeasureDefinition.hh)
ONEPASS_ACCURACY = 1e-4
ONEPASS_MAX_ITERATIONS = 1000


def _wrap(phi: np.ndarray) -> np.ndarray:
    return (phi + np.pi) % (2 * np.pi) - np.pi


def _assign(
    y: np.ndarray, phi: np.ndarray, jet: np.ndarray, ay: np.ndarray, aphi: np.ndarray, wrap: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest axis of each constituent: index, ΔR to it and Δφ (constituent − axis).

    ``wrap=False`` skips the 2π wrapping of Δφ: exact when φ is measured from each jet's own
    axis and every constituent lies within π/2 of it (see :func:`nsubjettiness`)."""
    # one 1-D pass per axis (N <= a few): cheaper than (n, N) fancy-indexed arrays; ties go
    # to the first axis, as np.argmin and contrib's strict "<" do
    best_j = np.zeros(len(y), dtype=np.intp)
    best_dr2 = best_dphi = None
    for a in range(ay.shape[1]):
        dphi_a = phi - aphi[jet, a]
        if wrap:
            dphi_a = _wrap(dphi_a)
        dr2_a = (y - ay[jet, a]) ** 2 + dphi_a**2
        if best_dr2 is None:
            best_dr2, best_dphi = dr2_a, dphi_a
            continue
        closer = dr2_a < best_dr2
        best_j[closer] = a
        best_dr2 = np.where(closer, dr2_a, best_dr2)
        best_dphi = np.where(closer, dphi_a, best_dphi)
    return best_j, np.sqrt(best_dr2), best_dphi


def _tau_flat(
    y: np.ndarray,
    phi: np.ndarray,
    pt: np.ndarray,
    jet: np.ndarray,
    ay: np.ndarray,
    aphi: np.ndarray,
    d0: np.ndarray,
    wrap: bool = True,
) -> np.ndarray:
    _, dr, _ = _assign(y, phi, jet, ay, aphi, wrap)
    num = np.bincount(jet, weights=pt * dr, minlength=len(ay))
    return np.where(d0 > 0, num / np.where(d0 > 0, d0, 1.0), 0.0)


def _onepass(
    y: np.ndarray,
    phi: np.ndarray,
    pt: np.ndarray,
    jet: np.ndarray,
    ay: np.ndarray,
    aphi: np.ndarray,
    wrap: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """fastjet-contrib's one-pass minimisation of the β = 1 (pT, ΔR) measure, vectorised over
    jets (``DefaultMeasure::get_one_pass_axes``): repeat {assign each constituent to its
    nearest axis; move each axis to Σ w·(y, φ) / Σ w with w = pT / √(ε² + ΔR²), ε = 1e-4} until
    the mean axis displacement of the jet is below ε or after 1000 updates. An axis with no
    constituent stays put. The loop runs over iterations, never over particles or jets."""
    ay, aphi = ay.copy(), aphi.copy()
    n_jets, n_axes = ay.shape
    active = np.arange(n_jets)
    # constituents of the active jets, re-sliced only when jets converge
    sel = np.arange(len(jet))
    for _ in range(ONEPASS_MAX_ITERATIONS):
        if active.size == 0:
            break
        local = np.full(n_jets, -1)
        local[active] = np.arange(active.size)
        cj = local[jet[sel]]
        cy, cphi, cpt = y[sel], phi[sel], pt[sel]
        oy, ophi = ay[active], aphi[active]
        j, dr, dphi = _assign(cy, cphi, cj, oy, ophi, wrap)
        w = cpt / np.sqrt(ONEPASS_ACCURACY**2 + dr**2)
        key = cj * n_axes + j
        size = active.size * n_axes
        sw = np.bincount(key, weights=w, minlength=size).reshape(-1, n_axes)
        sy = np.bincount(key, weights=w * cy, minlength=size).reshape(-1, n_axes)
        sphi = np.bincount(key, weights=w * (ophi.ravel()[key] + dphi), minlength=size).reshape(-1, n_axes)
        has = sw > 0
        ny = np.where(has, sy / np.where(has, sw, 1.0), oy)
        nphi = sphi / np.where(has, sw, 1.0)
        nphi = np.where(has, _wrap(nphi) if wrap else nphi, ophi)
        dmove = nphi - ophi
        move = np.sqrt((ny - oy) ** 2 + (_wrap(dmove) if wrap else dmove) ** 2).mean(axis=1)
        ay[active], aphi[active] = ny, nphi
        still = move > ONEPASS_ACCURACY
        if not still.all():
            active = active[still]
            alive = np.zeros(n_jets, dtype=bool)
            alive[active] = True
            sel = sel[alive[jet[sel]]]
    return ay, aphi


def nsubjettiness(
    constituents: ak.Array, n_max: int = 3, *, r0: float = 1.0, axes: str = "onepass_kt"
) -> np.ndarray:
    """τ1..τ_{n_max} of each jet: β = 1, normalised (fastjet-contrib ``NormalizedMeasure(1, R0)``),

    τN = Σ_k pT,k · min_j ΔR(k, axis_j) / (Σ_k pT,k · R0), ΔR in (rapidity, φ).

    Axes (``axes``):

    - ``"onepass_kt"`` (default, fastjet-contrib ``OnePass_KT_Axes``): exclusive-kT seeds
      refined by the one-pass minimisation (:func:`_onepass`);
    - ``"kt"`` (``KT_Axes``): the exclusive-kT axes themselves (the constituents reclustered
      with kT at R = 1000, E-scheme, into exactly N subjets), un-minimised.

    One kT clustering history per jet serves every N; a jet with at most N constituents has
    τN = 0 (every constituent is its own axis).

    Parameters
    ----------
    constituents : ak.Array of shape (n_jets, var)
        Constituents of each jet (Momentum4D records).
    n_max : int
        Highest N.
    r0 : float
        Characteristic radius of the normalisation d0 = Σ pT · R0.
    axes : {"onepass_kt", "kt"}

    Returns
    -------
    ndarray of shape (n_jets, n_max)
    """
    if axes not in AXES:
        raise ValueError(f"unknown N-subjettiness axes {axes!r}; use one of {', '.join(AXES)}")
    _vector()
    consts = _to_pxpypze(constituents)
    out = np.zeros((len(consts), n_max))
    counts = ak.to_numpy(ak.num(consts, axis=1))
    d0 = ak.to_numpy(ak.sum(consts.pt, axis=1)) * r0
    flat = ak.flatten(consts)
    e, pz = ak.to_numpy(flat.E).astype(np.float64), ak.to_numpy(flat.pz).astype(np.float64)
    px, py = ak.to_numpy(flat.px).astype(np.float64), ak.to_numpy(flat.py).astype(np.float64)
    y_all, phi_all, pt_all = _rapidity(e, pz), np.arctan2(py, px), np.hypot(px, py)
    jet_all = np.repeat(np.arange(len(consts)), counts)
    # measure φ from each jet's own axis: the minimisation then needs no 2π wrapping, exact
    # as long as every constituent is within π/2 of it (always, for R <= 1 jets)
    ref = np.arctan2(
        np.bincount(jet_all, weights=py, minlength=len(consts)),
        np.bincount(jet_all, weights=px, minlength=len(consts)),
    )
    phi_all = _wrap(phi_all - ref[jet_all])
    wrap = not (phi_all.size == 0 or np.abs(phi_all).max() < np.pi / 2)
    big = np.flatnonzero(counts > n_max)
    big_axes = _exclusive_axes(consts[big], list(range(1, n_max + 1))) if big.size else []
    for n in range(1, n_max + 1):
        # exactly n constituents or fewer: every constituent is its own axis, τ = 0
        todo = np.flatnonzero(counts > n)
        if todo.size == 0:
            continue
        ay, aphi = np.empty((todo.size, n)), np.empty((todo.size, n))
        is_big = counts[todo] > n_max
        for rows, ax in (
            (is_big, big_axes[n - 1] if big.size else None),
            (~is_big, _exclusive_axes(consts[todo[~is_big]], [n])[0] if (~is_big).any() else None),
        ):
            if ax is not None:
                ay[rows] = _rapidity(ax["E"], ax["pz"])
                aphi[rows] = _wrap(np.arctan2(ax["py"], ax["px"]) - ref[todo[rows]][:, None])
        local = np.full(len(consts), -1)
        local[todo] = np.arange(todo.size)
        keep = local[jet_all] >= 0
        y, phi, pt, jet = y_all[keep], phi_all[keep], pt_all[keep], local[jet_all[keep]]
        if axes == "onepass_kt":
            ay, aphi = _onepass(y, phi, pt, jet, ay, aphi, wrap)
        out[todo, n - 1] = _tau_flat(y, phi, pt, jet, ay, aphi, d0[todo], wrap)
    return out


def nsubjettiness_reference(
    px: np.ndarray,
    py: np.ndarray,
    pz: np.ndarray,
    e: np.ndarray,
    n: int,
    r0: float = 1.0,
    axes: str = "onepass_kt",
) -> float:
    """Brute-force NumPy τN of one jet, independent of fastjet and of the vectorised code.

    Exclusive kT clustering by hand: repeatedly merge (E-scheme) the pair with the smallest
    d_ij = min(pT,i², pT,j²)·ΔR_ij² until ``n`` pseudojets remain (the beam distance never
    wins at R = 1000); for ``axes="onepass_kt"`` then the contrib one-pass update, one axis at a
    time in plain loops; τN as in :func:`nsubjettiness`.
    """
    p = np.column_stack([px, py, pz, e]).astype(np.float64)
    pt = np.hypot(p[:, 0], p[:, 1])
    y = _rapidity(p[:, 3], p[:, 2])
    phi = np.arctan2(p[:, 1], p[:, 0])
    if len(p) <= n:
        return 0.0
    jets = p.copy()
    while len(jets) > n:
        jpt2 = jets[:, 0] ** 2 + jets[:, 1] ** 2
        jy = _rapidity(jets[:, 3], jets[:, 2])
        jphi = np.arctan2(jets[:, 1], jets[:, 0])
        dphi = (jphi[:, None] - jphi[None, :] + np.pi) % (2 * np.pi) - np.pi
        dr2 = (jy[:, None] - jy[None, :]) ** 2 + dphi**2
        dij = np.minimum(jpt2[:, None], jpt2[None, :]) * dr2
        np.fill_diagonal(dij, np.inf)
        i, j = np.unravel_index(np.argmin(dij), dij.shape)
        merged = jets[i] + jets[j]
        jets = np.vstack([np.delete(jets, [i, j], axis=0), merged])
    ay = list(_rapidity(jets[:, 3], jets[:, 2]))
    aphi = list(np.arctan2(jets[:, 1], jets[:, 0]))

    def distances(k: int) -> list[float]:
        out = []
        for a in range(n):
            d = abs(phi[k] - aphi[a])
            d = 2 * np.pi - d if d > np.pi else d
            out.append(float(np.hypot(y[k] - ay[a], d)))
        return out

    if axes == "onepass_kt":
        eps = ONEPASS_ACCURACY
        for _ in range(ONEPASS_MAX_ITERATIONS):
            sums = [[0.0, 0.0, 0.0] for _ in range(n)]
            for k in range(len(p)):
                d = distances(k)
                a = int(np.argmin(d))
                w = pt[k] / np.sqrt(eps**2 + d[a] ** 2)
                dphi_k = (phi[k] - aphi[a] + np.pi) % (2 * np.pi) - np.pi
                sums[a][0] += w
                sums[a][1] += w * y[k]
                sums[a][2] += w * (aphi[a] + dphi_k)
            moved = 0.0
            for a in range(n):
                if sums[a][0] > 0:
                    new_y = sums[a][1] / sums[a][0]
                    new_phi = (sums[a][2] / sums[a][0] + np.pi) % (2 * np.pi) - np.pi
                    dphi_a = (new_phi - aphi[a] + np.pi) % (2 * np.pi) - np.pi
                    moved += np.hypot(new_y - ay[a], dphi_a)
                    ay[a], aphi[a] = new_y, new_phi
            if moved / n <= eps:
                break
    num = sum(pt[k] * min(distances(k)) for k in range(len(p)))
    return float(num / (pt.sum() * r0))


@dataclass(frozen=True)
class JetFeatures:
    """Per-event jet features of the events with two jets.

    Attributes
    ----------
    columns : dict of str to ndarray
        ``{px,py,pz,pt,eta,phi,m,tau1,tau2,tau3,tau21,tau32}_j{1,2}`` (j1 = leading pT),
        ``mjj``, ``delta_eta_jj``; GeV.
    kept : ndarray of bool, shape (n_events_in,)
        Which input events had two jets.
    """

    columns: dict[str, np.ndarray]
    kept: np.ndarray

    @property
    def n_dropped(self) -> int:
        """Input events dropped for having fewer than two jets."""
        return int((~self.kept).sum())


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / b, 0.0)


def jet_features(particles: ak.Array, *, radius: float = 1.0) -> JetFeatures:
    """Cluster and compute every jet feature for a chunk of events (see module docstring)."""
    jets, constituents = cluster_leading_jets(particles, radius=radius, n_jets=2)
    kept = ak.to_numpy(ak.num(jets, axis=1) >= 2)
    jets, constituents = jets[kept], constituents[kept]
    flat_consts = ak.flatten(constituents, axis=1)  # (2·n, var): j1, j2, j1, j2, ...
    taus = nsubjettiness(flat_consts, 3).reshape(-1, 2, 3)
    cols: dict[str, np.ndarray] = {}
    for i in (0, 1):
        jet = jets[:, i]
        tag = f"_j{i + 1}"
        for name, values in (
            ("px", jet.px),
            ("py", jet.py),
            ("pz", jet.pz),
            ("pt", jet.pt),
            ("eta", jet.eta),
            ("phi", jet.phi),
        ):
            cols[name + tag] = ak.to_numpy(values).astype(np.float64)
        cols["m" + tag] = np.sqrt(np.clip(ak.to_numpy(jet.mass2), 0.0, None))
        t1, t2, t3 = taus[:, i, 0], taus[:, i, 1], taus[:, i, 2]
        cols["tau1" + tag], cols["tau2" + tag], cols["tau3" + tag] = t1, t2, t3
        cols["tau21" + tag], cols["tau32" + tag] = _ratio(t2, t1), _ratio(t3, t2)
    dijet = jets[:, 0] + jets[:, 1]
    cols["mjj"] = np.sqrt(np.clip(ak.to_numpy(dijet.mass2), 0.0, None))
    cols["delta_eta_jj"] = np.abs(cols["eta_j1"] - cols["eta_j2"])
    return JetFeatures(cols, kept)


def feature_table(features: JetFeatures, feature_set: str) -> tuple[np.ndarray, list[str]]:
    """The model-input matrix of a feature set.

    Returns
    -------
    X : ndarray of shape (n_events, n_features)
    names : list of str
    """
    c = features.columns
    if feature_set == "official":
        names = list(OFFICIAL)
        mapping = {
            f"{q}j{i}": f"{q}_j{i}" for i in (1, 2) for q in ("px", "py", "pz", "m", "tau1", "tau2", "tau3")
        }
        return np.column_stack([c[mapping[n]] for n in names]), names
    if feature_set == "community":
        heavier_first = c["m_j1"] >= c["m_j2"]
        m_max = np.where(heavier_first, c["m_j1"], c["m_j2"])
        m_min = np.where(heavier_first, c["m_j2"], c["m_j1"])
        t21_max = np.where(heavier_first, c["tau21_j1"], c["tau21_j2"])
        t21_min = np.where(heavier_first, c["tau21_j2"], c["tau21_j1"])
        x = np.column_stack([c["mjj"] / 1e3, m_min / 1e3, (m_max - m_min) / 1e3, t21_min, t21_max])
        return x, list(COMMUNITY)
    raise ValueError(f"unknown feature set {feature_set!r}; use one of {', '.join(FEATURE_SETS)}")
