"""Large-R jet features of LHCO-like events: fastjet clustering and N-subjettiness, vectorised.

Per event: anti-kT R = 1.0 jets of the event's particles (fastjet's awkward interface, one C++
call per chunk), the two leading jets by pT, and per jet

- ``px, py, pz, pt, eta, phi, m`` (GeV),
- N-subjettiness τ1, τ2, τ3 with β = 1 and exclusive-kT axes (the jet's constituents
  reclustered with the kT algorithm at R = 1000, E-scheme, exclusively into N subjets),
  normalised by d0 = Σ_k pT,k · R0 with R0 = 1.0:
  τN = Σ_k pT,k · min_j ΔR(k, axis_j) / d0, ΔR in (rapidity, φ); a jet with fewer than N
  constituents has τN = 0,
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
    import fastjet

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
    import fastjet

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


def _tau(consts: ak.Array, axes: dict[str, np.ndarray], d0: np.ndarray) -> np.ndarray:
    a_y = _rapidity(axes["E"], axes["pz"])
    a_phi = np.arctan2(axes["py"], axes["px"])
    c_y, c_phi = consts.rapidity, consts.phi
    min_dr = None
    for j in range(a_y.shape[1]):
        dphi = (c_phi - a_phi[:, j] + np.pi) % (2 * np.pi) - np.pi
        dr = np.sqrt((c_y - a_y[:, j]) ** 2 + dphi**2)
        min_dr = dr if min_dr is None else np.minimum(min_dr, dr)
    num = ak.to_numpy(ak.sum(consts.pt * min_dr, axis=1))
    return np.where(d0 > 0, num / np.where(d0 > 0, d0, 1.0), 0.0)


def nsubjettiness(constituents: ak.Array, n_max: int = 3, *, r0: float = 1.0) -> np.ndarray:
    """τ1..τ_{n_max} (β = 1, exclusive-kT axes, normalised) of each jet.

    One kT clustering sequence per jet serves every N (fastjet's exclusive jets of one
    history); the rare jets with at most ``n_max`` constituents are handled separately.

    Parameters
    ----------
    constituents : ak.Array of shape (n_jets, var)
        Constituents of each jet (Momentum4D records).
    n_max : int
        Highest N.
    r0 : float
        Characteristic radius of the normalisation d0 = Σ pT · R0.

    Returns
    -------
    ndarray of shape (n_jets, n_max)
    """
    _vector()
    consts = _to_pxpypze(constituents)
    out = np.zeros((len(consts), n_max))
    counts = ak.to_numpy(ak.num(consts, axis=1))
    d0 = ak.to_numpy(ak.sum(consts.pt, axis=1)) * r0
    big = counts > n_max
    if np.any(big):
        sub = consts[big]
        for n, axes in enumerate(_exclusive_axes(sub, list(range(1, n_max + 1))), start=1):
            out[big, n - 1] = _tau(sub, axes, d0[big])
    for n in range(1, n_max + 1):
        # exactly n constituents or fewer: every constituent is its own axis, τ = 0
        few = ~big & (counts > n)
        if np.any(few):
            sub = consts[few]
            out[few, n - 1] = _tau(sub, _exclusive_axes(sub, [n])[0], d0[few])
    return out


def nsubjettiness_reference(
    px: np.ndarray, py: np.ndarray, pz: np.ndarray, e: np.ndarray, n: int, r0: float = 1.0
) -> float:
    """Brute-force NumPy τN of one jet, independent of fastjet (for validation).

    Exclusive kT clustering by hand: repeatedly merge (E-scheme) the pair with the smallest
    d_ij = min(pT,i², pT,j²)·ΔR_ij² until ``n`` pseudojets remain (the beam distance never
    wins at R = 1000), then τN as in :func:`nsubjettiness`.
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
    ay = _rapidity(jets[:, 3], jets[:, 2])
    aphi = np.arctan2(jets[:, 1], jets[:, 0])
    dphi = (phi[:, None] - aphi[None, :] + np.pi) % (2 * np.pi) - np.pi
    dr = np.sqrt((y[:, None] - ay[None, :]) ** 2 + dphi**2).min(axis=1)
    return float((pt * dr).sum() / (pt.sum() * r0))


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
