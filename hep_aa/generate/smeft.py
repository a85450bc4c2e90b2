"""LO matrix element of q q̄ → Z(→ ℓ⁻ℓ⁺) h with dimension-6 Higgs-basis couplings (NumPy).

Conventions (metric +−−−, massless fermions, G_F scheme with inputs m_Z, m_W, G_F):
v = (√2 G_F)^(−1/2), g_Z = 2 m_Z / v, c_w = m_W / m_Z, Z couplings to fermions
g_Z γ^μ (g_L P_L + g_R P_R) with g_L = T3 − Q s_w², g_R = −Q s_w².

Higgs-basis Lagrangian (LHCHXSWG-INT-2015-001), the terms used here::

    L ⊃ (h/v) [ (1 + δc_z) m_Z² Z_μ Z^μ + c_zz (g_Z²/4) Z_μν Z^μν + c_z□ g² Z_μ ∂_ν Z^νμ ]
        + 2 g_Z (h/v) Z_μ Σ_q q̄ γ^μ (δg^{hZq}_L P_L + δg^{hZq}_R P_R) q

with δg^{hZq} = ``dgzh_uL`` ... for up- and down-type quarks. The hZZ vertex (Z*(P) from the
quarks, Z(k) to the leptons, all momenta as in the process) is

    i (2 m_Z²/v) [ A η^{μν} − c_zz (2/v²) k^μ P^ν ],
    A = 1 + δc_z + c_zz (2/v²) P·k + c_z□ (2 c_w²/v²) (P² + k²),

and the contact vertex i (2 g_Z/v) γ^ν (δg_L P_L + δg_R P_R). With J_q = v̄(q̄) γ^μ P_a u(q)
and J_ℓ = ū(ℓ⁻) γ^ν P_b v(ℓ⁺) the helicity amplitude is

    M_ab = (2 g_Z²/v) g^ℓ_b / D_k · { g^q_a m_Z² [A J_q·J_ℓ − c_zz (2/v²)(J_q·k)(J_ℓ·P)] / D_P + δg_a J_q·J_ℓ }

(overall phase dropped), D_X = X² − m_Z² + i m_Z Γ_Z. The amplitude is linear in the
parameters, so |M|² summed over helicities is quadratic: SM, linear and quadratic components
are exact. ``|M|²`` below is averaged over initial spins (1/4) and colours (1/3).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = [
    "PARAMETERS",
    "ElectroweakInputs",
    "analytic_sigma_zh",
    "me_components",
    "me_squared",
    "morph",
]

PARAMETERS = ("dcz", "czz", "czbox", "dgzh_uL", "dgzh_uR", "dgzh_dL", "dgzh_dR")
GEV2_TO_PB = 0.3893793721e9


@dataclass(frozen=True)
class ElectroweakInputs:
    """G_F-scheme inputs (GeV) and derived couplings."""

    m_z: float = 91.1876
    m_w: float = 80.379
    g_f: float = 1.1663787e-5
    gamma_z: float = 2.4952
    m_h: float = 125.0
    #: fixed Z width also in the s-channel propagator D_P (off for the narrow-width analytic check)
    schannel_width: bool = True

    @property
    def v(self) -> float:
        return float((np.sqrt(2.0) * self.g_f) ** -0.5)

    @property
    def g_z(self) -> float:
        return 2.0 * self.m_z / self.v

    @property
    def cw2(self) -> float:
        return (self.m_w / self.m_z) ** 2

    @property
    def sw2(self) -> float:
        return 1.0 - self.cw2

    def couplings(self, pdg: int) -> tuple[float, float]:
        """(g_L, g_R) of the Z to a fermion with PDG id ``pdg`` (sign ignored)."""
        a = abs(int(pdg))
        if a in (2, 4, 6):
            t3, q = 0.5, 2.0 / 3.0
        elif a in (1, 3, 5):
            t3, q = -0.5, -1.0 / 3.0
        elif a in (11, 13, 15):
            t3, q = -0.5, -1.0
        elif a in (12, 14, 16):
            t3, q = 0.5, 0.0
        else:
            raise ValueError(f"no Z coupling for PDG id {pdg}")
        return t3 - q * self.sw2, -q * self.sw2


# Dirac matrices, chiral (Weyl) basis
_I2 = np.eye(2)
_SIG = [
    np.array([[0, 1], [1, 0]], complex),
    np.array([[0, -1j], [1j, 0]]),
    np.array([[1, 0], [0, -1]], complex),
]
_GAMMA = np.zeros((4, 4, 4), complex)
_GAMMA[0] = np.block([[np.zeros((2, 2)), _I2], [_I2, np.zeros((2, 2))]])
for _i in range(3):
    _GAMMA[_i + 1] = np.block([[np.zeros((2, 2)), _SIG[_i]], [-_SIG[_i], np.zeros((2, 2))]])
_PL = np.diag([1.0, 1.0, 0.0, 0.0]).astype(complex)
_PR = np.diag([0.0, 0.0, 1.0, 1.0]).astype(complex)
_METRIC = np.array([1.0, -1.0, -1.0, -1.0])


def _xi(p: np.ndarray, helicity: int) -> np.ndarray:
    """Two-component helicity eigenstates of σ·p̂, shape (n, 2)."""
    px, py, pz = p[:, 1], p[:, 2], p[:, 3]
    mag = np.sqrt(px**2 + py**2 + pz**2)
    theta = np.arccos(np.clip(pz / np.where(mag > 0, mag, 1.0), -1.0, 1.0))
    phi = np.arctan2(py, px)
    if helicity > 0:
        return np.stack([np.cos(theta / 2), np.exp(1j * phi) * np.sin(theta / 2)], axis=1)
    return np.stack([-np.exp(-1j * phi) * np.sin(theta / 2), np.cos(theta / 2)], axis=1)


def _spinor(p: np.ndarray, helicity: int) -> np.ndarray:
    """Massless Dirac spinor u_h(p) in the chiral basis, shape (n, 4); v_h(p) = u_{−h}(p)."""
    norm = np.sqrt(2.0 * p[:, 0])[:, None]
    zero = np.zeros((len(p), 2), complex)
    xi = _xi(p, helicity)
    return norm * (np.concatenate([xi, zero], axis=1) if helicity < 0 else np.concatenate([zero, xi], axis=1))


def _current(bar: np.ndarray, ket: np.ndarray, proj: np.ndarray) -> np.ndarray:
    """bar† γ⁰ γ^μ P ket for each event, shape (n, 4) (upper index μ)."""
    barred = np.einsum("ni,ij->nj", bar.conj(), _GAMMA[0])
    return np.einsum("ni,mij,jk,nk->nm", barred, _GAMMA, proj, ket)


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("nm,nm,m->n", a, b, _METRIC)


def _amplitudes(
    p_q: np.ndarray,
    p_qbar: np.ndarray,
    p_lm: np.ndarray,
    p_lp: np.ndarray,
    quark: np.ndarray,
    ew: ElectroweakInputs,
) -> dict[str, list[np.ndarray]]:
    """Helicity amplitudes of the SM and of each parameter's unit coefficient.

    Returns a dict {"sm": [...], name: [...]} of lists (one entry per helicity configuration)
    of complex arrays of shape (n,).
    """
    n = len(p_q)
    P = p_q + p_qbar
    k = p_lm + p_lp
    v, mz, gz = ew.v, ew.m_z, ew.g_z
    P2, k2, Pk = _dot(P, P).real, _dot(k, k).real, _dot(P, k).real
    d_p = P2 - mz**2 + (1j * mz * ew.gamma_z if ew.schannel_width else 0.0)
    d_k = k2 - mz**2 + 1j * mz * ew.gamma_z
    up = np.isin(np.abs(quark), (2, 4))
    gq = {
        "L": np.where(up, ew.couplings(2)[0], ew.couplings(1)[0]),
        "R": np.where(up, ew.couplings(2)[1], ew.couplings(1)[1]),
    }
    gl = {"L": ew.couplings(11)[0], "R": ew.couplings(11)[1]}
    out: dict[str, list[np.ndarray]] = {name: [] for name in ("sm", *PARAMETERS)}
    for h_q in (-1, 1):
        for h_qbar in (-1, 1):
            u_q = _spinor(p_q, h_q)
            v_qbar = _spinor(p_qbar, -h_qbar)
            for h_l in (-1, 1):
                for h_lbar in (-1, 1):
                    u_l = _spinor(p_lm, h_l)
                    v_l = _spinor(p_lp, -h_lbar)
                    amps = {name: np.zeros(n, complex) for name in out}
                    for a, proj_a in (("L", _PL), ("R", _PR)):
                        jq = _current(v_qbar, u_q, proj_a)
                        for b, proj_b in (("L", _PL), ("R", _PR)):
                            jl = _current(u_l, v_l, proj_b)
                            jj = _dot(jq, jl)
                            jqk, jlp = _dot(jq, k), _dot(jl, P)
                            pre = (2.0 * gz**2 / v) * gl[b] / d_k
                            zs = pre * gq[a] * mz**2 / d_p
                            amps["sm"] += zs * jj
                            amps["dcz"] += zs * jj
                            amps["czz"] += zs * (2.0 / v**2) * (Pk * jj - jqk * jlp)
                            amps["czbox"] += zs * (2.0 * ew.cw2 / v**2) * (P2 + k2) * jj
                            for name in ("dgzh_uL", "dgzh_uR", "dgzh_dL", "dgzh_dR"):
                                flavour_up = name[5] == "u"
                                match = up if flavour_up else ~up
                                if name[-1] == a:
                                    amps[name] += np.where(match, pre * jj, 0.0)
                    for name in out:
                        out[name].append(amps[name])
    return out


def _as_momenta(x: np.ndarray) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.shape[-1] != 4:
        raise ValueError(f"momenta must have shape (n, 4) as (E, px, py, pz), got {arr.shape}")
    return arr


def me_components(
    p_q: np.ndarray,
    p_qbar: np.ndarray,
    p_lm: np.ndarray,
    p_lp: np.ndarray,
    quark: np.ndarray,
    ew: ElectroweakInputs | None = None,
) -> dict[str, np.ndarray]:
    """|M|² decomposition: ``sm``, ``lin_<p>`` and ``quad_<p>_<q>`` (p ≤ q in PARAMETERS order).

    |M(c)|² = sm + Σ_p c_p lin_p + Σ_{p≤q} c_p c_q quad_p_q, exactly.

    Parameters
    ----------
    p_q, p_qbar, p_lm, p_lp : ndarray of shape (n, 4)
        (E, px, py, pz) of the incoming quark and antiquark, ℓ⁻ and ℓ⁺ [GeV].
    quark : ndarray of shape (n,)
        PDG id of the incoming quark (1–4).
    The Z couplings are lepton-universal, so the lepton flavour does not enter.
    """
    ew = ew or ElectroweakInputs()
    p_q, p_qbar, p_lm, p_lp = (_as_momenta(x) for x in (p_q, p_qbar, p_lm, p_lp))
    quark = np.broadcast_to(np.asarray(quark), (len(p_q),))
    amps = _amplitudes(p_q, p_qbar, p_lm, p_lp, quark, ew)
    norm = 1.0 / 4.0 / 3.0  # spin and colour average
    sm = amps["sm"]
    out = {"sm": norm * sum(np.abs(a) ** 2 for a in sm)}
    for i, p in enumerate(PARAMETERS):
        out[f"lin_{p}"] = norm * sum(2.0 * (a0.conj() * a).real for a0, a in zip(sm, amps[p], strict=True))
        for q in PARAMETERS[i:]:
            if q == p:
                out[f"quad_{p}_{q}"] = norm * sum(np.abs(a) ** 2 for a in amps[p])
            else:
                out[f"quad_{p}_{q}"] = norm * sum(
                    2.0 * (a.conj() * b).real for a, b in zip(amps[p], amps[q], strict=True)
                )
    return out


def morph(components: Mapping[str, np.ndarray], point: Mapping[str, float]) -> np.ndarray:
    """|M|² (or a weight) at a parameter ``point`` from its quadratic components."""
    unknown = set(point) - set(PARAMETERS)
    if unknown:
        raise ValueError(f"unknown SMEFT parameter(s) {sorted(unknown)}; use {', '.join(PARAMETERS)}")
    total = np.array(components["sm"], dtype=np.float64, copy=True)
    for i, p in enumerate(PARAMETERS):
        cp = point.get(p, 0.0)
        if cp:
            total = total + cp * components[f"lin_{p}"]
        for q in PARAMETERS[i:]:
            cq = point.get(q, 0.0)
            if cp and cq:
                total = total + cp * cq * components[f"quad_{p}_{q}"]
    return total


def me_squared(
    p_q: np.ndarray,
    p_qbar: np.ndarray,
    p_lm: np.ndarray,
    p_lp: np.ndarray,
    quark: np.ndarray,
    point: Mapping[str, float] | None = None,
    ew: ElectroweakInputs | None = None,
) -> np.ndarray:
    """Spin- and colour-averaged |M|² evaluated directly at ``point`` (not via components)."""
    ew = ew or ElectroweakInputs()
    point = dict(point or {})
    p_q, p_qbar, p_lm, p_lp = (_as_momenta(x) for x in (p_q, p_qbar, p_lm, p_lp))
    quark = np.broadcast_to(np.asarray(quark), (len(p_q),))
    amps = _amplitudes(p_q, p_qbar, p_lm, p_lp, quark, ew)
    total = 0.0
    for i in range(len(amps["sm"])):
        a = amps["sm"][i] + sum(point.get(p, 0.0) * amps[p][i] for p in PARAMETERS)
        total = total + np.abs(a) ** 2
    return total / 12.0


def analytic_sigma_zh(sqrt_s_hat: np.ndarray, quark: int, ew: ElectroweakInputs | None = None) -> np.ndarray:
    """SM LO partonic σ(q q̄ → Z h) [pb], on-shell Z, spin and colour averaged.

    σ = G_F² m_Z⁴ / (288 π ŝ) (v_q² + a_q²) λ^{1/2} (λ + 12 m_Z²/ŝ) / (1 − m_Z²/ŝ)², with
    a_q = 2 T3, v_q = 2 T3 − 4 Q s_w² and λ the Källén function of (1, m_Z²/ŝ, m_h²/ŝ)
    (the e⁺e⁻ formula's 96π times 3 for the colour average).
    """
    ew = ew or ElectroweakInputs()
    s = np.asarray(sqrt_s_hat, dtype=np.float64) ** 2
    g_l, g_r = ew.couplings(quark)
    a_q, v_q = 2.0 * (g_l - g_r), 2.0 * (g_l + g_r)
    lam = (1 - (ew.m_h + ew.m_z) ** 2 / s) * (1 - (ew.m_h - ew.m_z) ** 2 / s)
    sigma = (
        ew.g_f**2
        * ew.m_z**4
        / (288 * np.pi * s)
        * (v_q**2 + a_q**2)
        * np.sqrt(lam)
        * (lam + 12 * ew.m_z**2 / s)
    )
    return sigma / (1 - ew.m_z**2 / s) ** 2 * GEV2_TO_PB
