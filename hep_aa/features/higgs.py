"""Z h (Z → ℓℓ, h → b b̄) kinematic features from a common event model.

Every reader (generated NanoAOD-like ROOT, real NanoAOD, Delphes, LHE at parton level) hands
this module the same awkward event model:

- ``leptons``: records ``pt, eta, phi, mass, charge, pdgId`` (electrons and muons);
- ``jets``: records ``pt, eta, phi, mass, btag`` (btag 1/0; b quarks for LHE);
- ``weight``: one event weight (1 when the file carries none).

Candidates: the Z is the opposite-sign same-flavour lepton pair with mass nearest m_Z; the h
is the two leading b-tagged jets, or the two leading jets when fewer than two are b-tagged
(``h_fallback`` = 1). Events without an OSSF pair or with fewer than two jets are dropped
and counted (``kept`` mask). Features per event (GeV, radians):

``pt_z, eta_z, pt_h, eta_h, m_bb, m_zh, pt_zh, dphi_zh, dr_bb, dr_ll, cos_theta_cs, phi_cs``

with the lepton (ℓ⁻) Collins–Soper angles in the Z rest frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np

__all__ = ["VH_FEATURES", "VHFeatures", "boost", "vh_features"]

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


def boost(p: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Boost (E, px, py, pz) rows of ``p`` by velocities ``beta`` of shape (n, 3)."""
    b2 = np.sum(beta**2, axis=1)
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = np.sum(beta * p[:, 1:], axis=1)
    g2 = np.where(b2 > 0, (gamma - 1.0) / np.where(b2 > 0, b2, 1.0), 0.0)
    e = gamma * (p[:, 0] + bp)
    return np.column_stack([e, p[:, 1:] + ((g2 * bp + gamma * p[:, 0])[:, None] * beta)])


def _p4(rec: ak.Array) -> np.ndarray:
    import vector

    vector.register_awkward()
    v = ak.zip({"pt": rec.pt, "eta": rec.eta, "phi": rec.phi, "mass": rec.mass}, with_name="Momentum4D")
    return np.column_stack(
        [ak.to_numpy(v.E), ak.to_numpy(v.px), ak.to_numpy(v.py), ak.to_numpy(v.pz)]
    ).astype(np.float64)


def _mass(p: np.ndarray) -> np.ndarray:
    return np.sqrt(np.clip(p[:, 0] ** 2 - np.sum(p[:, 1:] ** 2, axis=1), 0.0, None))


def _pt(p: np.ndarray) -> np.ndarray:
    return np.hypot(p[:, 1], p[:, 2])


def _eta(p: np.ndarray) -> np.ndarray:
    pt = _pt(p)
    return np.arcsinh(np.divide(p[:, 3], pt, out=np.zeros_like(pt), where=pt > 0))


def _dphi(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a - b + np.pi) % (2 * np.pi) - np.pi


def collins_soper(
    l_minus: np.ndarray, l_plus: np.ndarray, sqrt_s: float = 13000.0
) -> tuple[np.ndarray, np.ndarray]:
    """cos θ and φ of ℓ⁻ in the Collins–Soper frame of the pair (z axis along the bisector of
    the beams in the pair rest frame, oriented along the pair's longitudinal direction)."""
    q = l_minus + l_plus
    beta = -q[:, 1:] / q[:, :1]
    n = len(q)
    e_beam = sqrt_s / 2
    b1 = boost(np.tile([e_beam, 0.0, 0.0, e_beam], (n, 1)), beta)[:, 1:]
    b2 = boost(np.tile([e_beam, 0.0, 0.0, -e_beam], (n, 1)), beta)[:, 1:]
    b1 /= np.linalg.norm(b1, axis=1, keepdims=True)
    b2 /= np.linalg.norm(b2, axis=1, keepdims=True)
    z = b1 - b2
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    sign = np.where(q[:, 3] >= 0, 1.0, -1.0)[:, None]
    z *= sign
    x = -(b1 + b2)
    x -= np.sum(x * z, axis=1, keepdims=True) * z
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    x = np.divide(x, norm, out=np.tile([1.0, 0.0, 0.0], (n, 1)), where=norm > 1e-12)
    y = np.cross(z, x)
    lep = boost(l_minus, beta)[:, 1:]
    lep /= np.linalg.norm(lep, axis=1, keepdims=True)
    return np.sum(lep * z, axis=1), np.arctan2(np.sum(lep * y, axis=1), np.sum(lep * x, axis=1))


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


def vh_features(events: ak.Array) -> VHFeatures:
    """Z and h candidates and the features of the module docstring."""
    leptons = events.leptons
    pairs = ak.combinations(leptons, 2, fields=["a", "b"])
    ossf = (abs(pairs.a.pdgId) == abs(pairs.b.pdgId)) & (pairs.a.charge * pairs.b.charge < 0)
    pairs = pairs[ossf]
    import vector

    vector.register_awkward()

    def v4(r: ak.Array) -> ak.Array:
        return ak.zip({"pt": r.pt, "eta": r.eta, "phi": r.phi, "mass": r.mass}, with_name="Momentum4D")

    mll = (v4(pairs.a) + v4(pairs.b)).mass
    best = ak.argmin(abs(mll - M_Z), axis=1, keepdims=True)
    zpair = ak.firsts(pairs[best])
    jets = events.jets[ak.argsort(events.jets.pt, axis=1, ascending=False)]
    bjets = jets[jets.btag > 0.5]
    use_b = ak.num(bjets) >= 2
    hjets = ak.where(use_b, bjets[:, :2], jets[:, :2])
    kept = ak.to_numpy(~ak.is_none(zpair) & (ak.num(jets) >= 2))
    zpair, hjets, use_b = zpair[kept], hjets[kept], ak.to_numpy(use_b[kept])
    minus_first = ak.to_numpy(zpair.a.charge < 0)
    pa, pb = _p4(zpair.a), _p4(zpair.b)
    l_minus = np.where(minus_first[:, None], pa, pb)
    l_plus = np.where(minus_first[:, None], pb, pa)
    j1, j2 = _p4(hjets[:, 0]), _p4(hjets[:, 1])
    z, h = l_minus + l_plus, j1 + j2
    zh = z + h
    phi = lambda p: np.arctan2(p[:, 2], p[:, 1])  # noqa: E731
    cos_cs, phi_cs = collins_soper(l_minus, l_plus)
    weight = (
        ak.to_numpy(events.weight[kept]).astype(np.float64) if "weight" in events.fields else np.ones(len(z))
    )
    cols = {
        "pt_z": _pt(z),
        "eta_z": _eta(z),
        "pt_h": _pt(h),
        "eta_h": _eta(h),
        "m_bb": _mass(h),
        "m_zh": _mass(zh),
        "pt_zh": _pt(zh),
        "dphi_zh": np.abs(_dphi(phi(z), phi(h))),
        "dr_bb": np.hypot(_eta(j1) - _eta(j2), _dphi(phi(j1), phi(j2))),
        "dr_ll": np.hypot(_eta(l_minus) - _eta(l_plus), _dphi(phi(l_minus), phi(l_plus))),
        "cos_theta_cs": cos_cs,
        "phi_cs": phi_cs,
        "h_fallback": (~use_b).astype(np.int8),
        "weight": weight,
    }
    return VHFeatures(cols, kept)
