"""LO matrix elements of q q̄ → Z(→ ℓ⁻ℓ⁺) h and q q̄' → W^±(→ ℓ^± ν) h in the Higgs basis (NumPy).

Conventions (metric +−−−, massless fermions, G_F scheme with inputs m_Z, m_W, G_F):
v = (√2 G_F)^(−1/2), g = 2 m_W / v, g_Z = √(g² + g'²) = 2 m_Z / v, c_w = m_W / m_Z,
e = g s_w. Covariant derivative D_μ = ∂_μ − i g T^a W^a_μ − i g' Y B_μ, Z = c_w W³ − s_w B,
A = s_w W³ + c_w B, so the neutral and charged currents are ::

    L ⊃ f̄ γ^μ [e Q A_μ + g_Z (T3 − Q s_w² + δg^{Zf}) Z_μ] f
        + (g/√2) [W⁺_μ ū γ^μ V (1 + δg^{Wq}_L) P_L d + W⁺_μ ν̄ γ^μ (1 + δg^{Wℓ}_L) P_L e + h.c.]

Higgs-basis Lagrangian (LHCHXSWG-INT-2015-001, A. Falkowski), the terms used here::

    L ⊃ (h/v) [ (1 + δc_z) m_Z² Z_μ Z^μ + 2 (1 + δc_w) m_W² W⁺_μ W⁻^μ
                + c_zz (g_Z²/4) Z_μν Z^μν + c_zγ (e g_Z/2) Z_μν A^μν + c_γγ (e²/4) A_μν A^μν
                + c_ww (g²/2) W⁺_μν W⁻^μν
                + c_z□ g² Z_μ ∂_ν Z^μν + c_γ□ g g' Z_μ ∂_ν A^μν + c_w□ g² (W⁻_μ ∂_ν W⁺^μν + h.c.) ]
        + 2 g_Z (h/v) Z_μ f̄ γ^μ δg^{hZf} f + √2 g (h/v) [W⁺_μ ū γ^μ δg^{hWq}_L P_L d + ... + h.c.]

with V_μν = ∂_μ V_ν − ∂_ν V_μ. Between conserved (massless-fermion) currents ∂_ν Z^μν acts as
p² Z^μ for a Z of four-momentum p, so c_z□ enters the hZZ vertex as + c_z□ g² (P² + k²)/v (the
term A below); the index order Z^μν (not Z^νμ, which flips the sign) is the note's.

The independent couplings are the parameters :data:`PARAMETERS`:

=========== ============================================================================
``dcz``     δc_z
``czz``     c_zz
``czbox``   c_z□
``dgzh_uL`` δg^{Zu}_L = δg^{hZu}_L (u and c; likewise ``dgzh_uR``, ``dgzh_dL``, ``dgzh_dR``
            for u_R, d_L = d, s, b left-handed, d_R)
``czgamma`` c_zγ
``cgamgam`` c_γγ
``dm``      δm (W mass shift; enters here only through δc_w, m_W in propagators is the
            measured input)
``dgz_eL``  δg^{Ze}_L = δg^{hZe}_L (charged leptons, universal; ``dgz_eR`` right-handed)
``dgw_lL``  δg^{Wℓ}_L = δg^{hWℓ}_L (W–lepton vertex, universal)
=========== ============================================================================

In the Higgs basis the vertex corrections and the contact terms are equal,
δg^{hVf} = δg^{Vf}: a parameter ``dgzh_uL`` shifts the q q̄ Z vertex of the up quarks *and* adds
the hZqq contact term (likewise ``dgz_eL`` the Zℓℓ vertex and the hZℓℓ contact term). The
dependent couplings (eqs. 3.5, 3.11, 3.18 of the note, as in Rosetta's ``HiggsBasis``) are ::

    δc_w = δc_z + 4 δm
    c_ww = c_zz + 2 s_w² c_zγ + s_w⁴ c_γγ
    c_w□ = [g² c_z□ + g'² c_zz − e² s_w² c_γγ − (g² − g'²) s_w² c_zγ] / (g² − g'²)
    c_γ□ = [2 g² c_z□ + (g² + g'²) c_zz − e² c_γγ − (g² − g'²) c_zγ] / (g² − g'²)
    δg^{Wq}_L = δg^{Zu}_L − δg^{Zd}_L       (flavour-universal, so V δg^{Wq} = V (δg^{Zu} − δg^{Zd}))

so one parameter point gives consistent Zh and Wh weights (see :func:`higgs_basis_couplings`).
c_γ□ enters Zh through q q̄ → γ* → Z h; with it the energy-growing parts of the longitudinal
amplitudes obey the SU(2) relation G(u_L) − G(d_L) = G(W) at every point (tested). The right-
handed W–quark coupling δg^{Wq}_R (independent, no interference for massless quarks) and the CP-
odd couplings are not included; Γ_Z and Γ_W are the measured widths (not recomputed).

The amplitudes are kept at O(Λ⁻²), i.e. linear in the couplings (products such as δg^{Zq} δg^{Ze}
are dropped, as in a linearised SMEFT amplitude), so ``|M|²`` summed over helicities is quadratic in
the parameters and the SM, linear and quadratic components are exact.

Vertices (Z*(P) from the quarks, V(k) to the leptons, all momenta as in the process): hZZ is
i (2 m_Z²/v) [A η^{μν} − c_zz (2/v²) k^μ P^ν] with
A = 1 + δc_z + c_zz (2/v²) P·k + c_z□ (2 c_w²/v²)(P² + k²); hWW the same with m_W, δc_w, c_ww and
c_w□ (2/v²)(P² + k²); hZγ (photon momentum p_γ) i (1/v)[c_zγ e g_Z (P·k η − k^μ P^ν) + c_γ□ g g' p_γ² η];
hγγ i (c_γγ e²/v)(P·k η − k^μ P^ν). With J_q = v̄(q̄) γ^μ P_a u(q), J_ℓ = ū(ℓ) γ^ν P_b v(ℓ̄),
X = (P·k) J_q·J_ℓ − (J_q·k)(J_ℓ·P), D_X = X² − m_V² + i m_V Γ_V, G_f = g_f + δg^{Zf}, the Zh
helicity amplitude is (overall phase dropped) ::

    M_ab = (1/v) { 2 g_Z² m_Z² G_q G_ℓ [A' J_q·J_ℓ + c_zz (2/v²) X] / (D_P D_k)
                   + 2 g_Z² (δg_q g_ℓ / D_k + g_q δg_ℓ / D_P) J_q·J_ℓ
                   + e g_Z c_γ□ g g' (Q_q g_ℓ / D_k + g_q Q_ℓ / D_P) J_q·J_ℓ
                   + e² g_Z² c_zγ (Q_q g_ℓ / (P² D_k) + g_q Q_ℓ / (D_P k²)) X
                   + e⁴ c_γγ Q_q Q_ℓ X / (P² k²) }

(A' = A without the c_zz term, everything expanded to linear order) and the Wh amplitude ::

    M = (g² V_qq' / v) { m_W² [(A'_W + δg^{Wq} + δg^{Wℓ}) J_q·J_ℓ + c_ww (2/v²) X] / (D_P D_k)
                         + δg^{Wq} J_q·J_ℓ / D_k + δg^{Wℓ} J_q·J_ℓ / D_P }.

Size of the Higgs-basis vertex shift (narrow Z, no s-channel width): for u ū → Z h with
``dgzh_uL`` = c the left-handed amplitude is SM × (1 + x), x = c ŝ / (g_L m_Z²); without the qqZ
vertex shift it would be x = c (ŝ − m_Z²)/(g_L m_Z²). The vertex shift therefore raises the
linear term by the factor ŝ/(ŝ − m_Z²): +15 % at √ŝ = 250 GeV, +10 % at 300 GeV, +4.7 % at
430 GeV, +2.4 % at 600 GeV, +0.6 % at 1.2 TeV (the same holds for Wh with m_W).
Over the √s = 13 TeV Pythia hard-process spectrum (:func:`hep_aa.generate.vh.parton_sample`,
20 000 events, seed 1) the vertex shift is this share of the whole linear term of any ``dgzh_*``:
Zh 13.7 % for p_T(Z) < 50 GeV, 10 % at 50–100, 5.7 % at 100–200, 2.2 % at 200–400, 0.6 % above
400 GeV, 7.5 % inclusive; Wh (δg^{Wq}) 11.6 %, 8.3 %, 4.5 %, 1.7 %, 0.5 %, 6.2 % inclusive.

``|M|²`` is averaged over initial spins (1/4) and colours (1/3).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from hep_aa.exceptions import ConfigError, DataFormatError

__all__ = [
    "PARAMETERS",
    "ElectroweakInputs",
    "analytic_sigma_wh",
    "analytic_sigma_zh",
    "higgs_basis_couplings",
    "me_components",
    "me_components_wh",
    "me_squared",
    "me_squared_wh",
    "morph",
]

PARAMETERS = (
    "dcz",
    "czz",
    "czbox",
    "dgzh_uL",
    "dgzh_uR",
    "dgzh_dL",
    "dgzh_dR",
    "czgamma",
    "cgamgam",
    "dm",
    "dgz_eL",
    "dgz_eR",
    "dgw_lL",
)
GEV2_TO_PB = 0.3893793721e9

#: CKM magnitudes (PDG 2022), rows u, c; columns d, s, b
_CKM = ((0.97435, 0.22500, 0.00369), (0.22486, 0.97349, 0.04182))


@dataclass(frozen=True)
class ElectroweakInputs:
    """G_F-scheme inputs (GeV) and derived couplings."""

    m_z: float = 91.1876
    m_w: float = 80.379
    g_f: float = 1.1663787e-5
    gamma_z: float = 2.4952
    gamma_w: float = 2.085
    m_h: float = 125.0
    #: fixed V width also in the s-channel propagator D_P (off for the narrow-width analytic check)
    schannel_width: bool = True
    #: CKM magnitudes, rows u, c and columns d, s, b
    ckm: tuple[tuple[float, float, float], tuple[float, float, float]] = _CKM

    @property
    def v(self) -> float:
        return float((np.sqrt(2.0) * self.g_f) ** -0.5)

    @property
    def g_z(self) -> float:
        return 2.0 * self.m_z / self.v

    @property
    def g(self) -> float:
        """SU(2) coupling, 2 m_W / v."""
        return 2.0 * self.m_w / self.v

    @property
    def g_prime(self) -> float:
        """Hypercharge coupling, √(g_Z² − g²)."""
        return float(np.sqrt(self.g_z**2 - self.g**2))

    @property
    def e(self) -> float:
        return self.g * float(np.sqrt(self.sw2))

    @property
    def cw2(self) -> float:
        return (self.m_w / self.m_z) ** 2

    @property
    def sw2(self) -> float:
        return 1.0 - self.cw2

    def couplings(self, pdg: int) -> tuple[float, float]:
        """(g_L, g_R) of the Z to a fermion with PDG id ``pdg`` (sign ignored)."""
        t3, q = _t3_charge(pdg)
        return t3 - q * self.sw2, -q * self.sw2

    def vckm(self, up: np.ndarray, down: np.ndarray) -> np.ndarray:
        """CKM magnitude V_{up, down} for arrays of PDG ids (2, 4 and 1, 3, 5; sign ignored)."""
        table = np.zeros((5, 6))
        for i, u in enumerate((2, 4)):
            for j, d in enumerate((1, 3, 5)):
                table[u - 1, d] = self.ckm[i][j]
        return table[np.abs(up) - 1, np.abs(down)]


def _t3_charge(pdg: int) -> tuple[float, float]:
    a = abs(int(pdg))
    if a in (2, 4, 6):
        return 0.5, 2.0 / 3.0
    if a in (1, 3, 5):
        return -0.5, -1.0 / 3.0
    if a in (11, 13, 15):
        return -0.5, -1.0
    if a in (12, 14, 16):
        return 0.5, 0.0
    raise DataFormatError(f"no Z coupling for PDG id {pdg}: expected a quark (1-6) or lepton (11-16)")


def higgs_basis_couplings(
    point: Mapping[str, float] | None = None, ew: ElectroweakInputs | None = None
) -> dict:
    """All Higgs-basis couplings that enter Zh and Wh at ``point``, dependent ones included.

    Returns a dict with the independent couplings (``dcz``, ``czz``, ``czbox``, ``czgamma``,
    ``cgamgam``, ``dgzh_*``, ``dgz_e*``, ``dgw_lL``, ``dm``) and the dependent ``dcw``, ``cww``,
    ``cwbox``, ``cgambox`` (c_γ□) and ``dgw_qL`` (δg^{Wq}_L), from the relations in the module
    docstring. Linear in ``point``.
    """
    ew = ew or ElectroweakInputs()
    point = _check_point(point)
    c = {p: float(point.get(p, 0.0)) for p in PARAMETERS}
    g2, gp2, e2, s2 = ew.g**2, ew.g_prime**2, ew.e**2, ew.sw2
    c["dcw"] = c["dcz"] + 4.0 * c["dm"]
    c["cww"] = c["czz"] + 2.0 * s2 * c["czgamma"] + s2**2 * c["cgamgam"]
    c["cwbox"] = (
        g2 * c["czbox"] + gp2 * c["czz"] - e2 * s2 * c["cgamgam"] - (g2 - gp2) * s2 * c["czgamma"]
    ) / (g2 - gp2)
    c["cgambox"] = (
        2.0 * g2 * c["czbox"] + (g2 + gp2) * c["czz"] - e2 * c["cgamgam"] - (g2 - gp2) * c["czgamma"]
    ) / (g2 - gp2)
    c["dgw_qL"] = c["dgzh_uL"] - c["dgzh_dL"]
    return c


def _check_point(point: Mapping[str, float] | None) -> dict[str, float]:
    point = dict(point or {})
    unknown = set(point) - set(PARAMETERS)
    if unknown:
        raise ConfigError(f"unknown SMEFT parameter(s) {sorted(unknown)}; use {', '.join(PARAMETERS)}")
    return point


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


#: coupling structures of the Zh amplitude (coefficients from :func:`higgs_basis_couplings`)
_ZH_STRUCTURES = (
    "dcz",
    "czz",
    "czbox",
    "czgamma",
    "cgamgam",
    "cgambox",
    "dgzh_uL",
    "dgzh_uR",
    "dgzh_dL",
    "dgzh_dR",
    "dgz_eL",
    "dgz_eR",
)
_WH_STRUCTURES = ("dcw", "cww", "cwbox", "dgw_qL", "dgw_lL")


def _zh_structures(
    p_q: np.ndarray,
    p_qbar: np.ndarray,
    p_lm: np.ndarray,
    p_lp: np.ndarray,
    quark: np.ndarray,
    ew: ElectroweakInputs,
) -> dict[str, list[np.ndarray]]:
    """Zh helicity amplitudes of the SM and of each coupling structure at unit coefficient.

    Returns {"sm": [...], structure: [...]}: lists over the helicity configurations of complex
    arrays of shape (n,).
    """
    n = len(p_q)
    P = p_q + p_qbar
    k = p_lm + p_lp
    v, mz, gz = ew.v, ew.m_z, ew.g_z
    e, ggp = ew.e, ew.g * ew.g_prime
    P2, k2, Pk = _dot(P, P).real, _dot(k, k).real, _dot(P, k).real
    d_p = P2 - mz**2 + (1j * mz * ew.gamma_z if ew.schannel_width else 0.0)
    d_k = k2 - mz**2 + 1j * mz * ew.gamma_z
    up = np.isin(np.abs(quark), (2, 4, 6))
    q_q = np.where(up, 2.0 / 3.0, -1.0 / 3.0)
    q_l = -1.0
    gq = {
        "L": np.where(up, ew.couplings(2)[0], ew.couplings(1)[0]),
        "R": np.where(up, ew.couplings(2)[1], ew.couplings(1)[1]),
    }
    gl = {"L": ew.couplings(11)[0], "R": ew.couplings(11)[1]}
    out: dict[str, list[np.ndarray]] = {name: [] for name in ("sm", *_ZH_STRUCTURES)}
    zero = np.zeros(n, complex)
    for h_q in (-1, 1):
        a = "L" if h_q < 0 else "R"
        proj_a = _PL if h_q < 0 else _PR
        # a massless current is non-zero only for v̄(q̄) of the opposite helicity
        jq = _current(_spinor(p_qbar, h_q), _spinor(p_q, h_q), proj_a)
        for h_l in (-1, 1):
            b = "L" if h_l < 0 else "R"
            proj_b = _PL if h_l < 0 else _PR
            jl = _current(_spinor(p_lm, h_l), _spinor(p_lp, h_l), proj_b)
            jj = _dot(jq, jl)
            x = Pk * jj - _dot(jq, k) * _dot(jl, P)
            zz = 2.0 * gz**2 * mz**2 / (v * d_p * d_k)  # Z–Z diagram per unit G_q G_ℓ
            sm = zz * gq[a] * gl[b] * jj
            amps = dict.fromkeys(out, zero)
            amps["sm"] = sm
            amps["dcz"] = sm
            amps["czbox"] = sm * (2.0 * ew.cw2 / v**2) * (P2 + k2)
            amps["czz"] = zz * gq[a] * gl[b] * (2.0 / v**2) * x
            # photon on the quark (P) or the lepton (k) side of the hZγ vertex, and γγ
            amps["cgambox"] = (e * ggp / v) * (q_q * gz * gl[b] / d_k + gz * gq[a] * q_l / d_p) * jj
            amps["czgamma"] = (e**2 * gz**2 / v) * (q_q * gl[b] / (P2 * d_k) + gq[a] * q_l / (d_p * k2)) * x
            amps["cgamgam"] = (e**4 / v) * q_q * q_l / (P2 * k2) * x
            # δg^{Zq} = δg^{hZq}: qqZ vertex shift + hZqq contact; same for the leptons
            for flavour, match in (("u", up), ("d", ~up)):
                shift = (2.0 * gz**2 / v) * gl[b] * (mz**2 / (d_p * d_k) + 1.0 / d_k) * jj
                amps[f"dgzh_{flavour}{a}"] = np.where(match, shift, 0.0)
            amps[f"dgz_e{b}"] = (2.0 * gz**2 / v) * gq[a] * (mz**2 / (d_p * d_k) + 1.0 / d_p) * jj
            for name in out:
                out[name].append(amps[name])
    return out


def _wh_structures(
    p_q: np.ndarray,
    p_qbar: np.ndarray,
    p_f: np.ndarray,
    p_fbar: np.ndarray,
    vckm: np.ndarray,
    ew: ElectroweakInputs,
) -> dict[str, list[np.ndarray]]:
    """Wh amplitude (left-handed currents only) of the SM and of each structure, as lists of one."""
    P = p_q + p_qbar
    k = p_f + p_fbar
    v, mw = ew.v, ew.m_w
    P2, k2, Pk = _dot(P, P).real, _dot(k, k).real, _dot(P, k).real
    d_p = P2 - mw**2 + (1j * mw * ew.gamma_w if ew.schannel_width else 0.0)
    d_k = k2 - mw**2 + 1j * mw * ew.gamma_w
    jq = _current(_spinor(p_qbar, -1), _spinor(p_q, -1), _PL)
    jl = _current(_spinor(p_f, -1), _spinor(p_fbar, -1), _PL)
    jj = _dot(jq, jl)
    x = Pk * jj - _dot(jq, k) * _dot(jl, P)
    pre = ew.g**2 * vckm / v
    ww = pre * mw**2 / (d_p * d_k)
    sm = ww * jj
    return {
        "sm": [sm],
        "dcw": [sm],
        "cwbox": [sm * (2.0 / v**2) * (P2 + k2)],
        "cww": [ww * (2.0 / v**2) * x],
        "dgw_qL": [sm + pre * jj / d_k],
        "dgw_lL": [sm + pre * jj / d_p],
    }


def _parameter_amplitudes(structures: dict[str, list[np.ndarray]], names: tuple[str, ...], ew) -> dict:
    """Unit-parameter amplitudes Σ_s (∂ coupling_s / ∂ c_p) S_s for every parameter p."""
    out = {"sm": structures["sm"]}
    n_hel = len(structures["sm"])
    for p in PARAMETERS:
        coef = higgs_basis_couplings({p: 1.0}, ew)
        amps = [np.zeros_like(structures["sm"][0]) for _ in range(n_hel)]
        for s in names:
            if coef[s]:
                amps = [a + coef[s] * b for a, b in zip(amps, structures[s], strict=True)]
        out[p] = amps
    return out


def _components(amps: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
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


def _direct(structures: dict[str, list[np.ndarray]], names: tuple[str, ...], point, ew) -> np.ndarray:
    c = higgs_basis_couplings(point, ew)
    total = 0.0
    for i, a0 in enumerate(structures["sm"]):
        a = a0 + sum(c[s] * structures[s][i] for s in names)
        total = total + np.abs(a) ** 2
    return total / 12.0


def _as_momenta(x: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[-1] != 4:
        raise DataFormatError(f"{name}: momenta must have shape (n, 4) as (E, px, py, pz), got {arr.shape}")
    return arr


def _ids(x: np.ndarray, n: int, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.mod(arr, 1) == 0):
            raise DataFormatError(f"{name}: PDG ids must be integers, got {arr!r}")
        arr = arr.astype(np.int64)
    try:
        return np.broadcast_to(arr, (n,))
    except ValueError:
        raise DataFormatError(f"{name}: {arr.shape} PDG ids for {n} events") from None


def _zh_inputs(p_q, p_qbar, p_lm, p_lp, quark):
    p_q, p_qbar, p_lm, p_lp = (
        _as_momenta(x, name) for x, name in ((p_q, "p_q"), (p_qbar, "p_qbar"), (p_lm, "p_lm"), (p_lp, "p_lp"))
    )
    quark = _ids(quark, len(p_q), "quark")
    if not np.all(np.isin(np.abs(quark), (1, 2, 3, 4, 5))):
        raise DataFormatError(f"quark: PDG ids must be quarks 1-5, got {np.unique(quark)}")
    return p_q, p_qbar, p_lm, p_lp, quark


def me_components(
    p_q: np.ndarray,
    p_qbar: np.ndarray,
    p_lm: np.ndarray,
    p_lp: np.ndarray,
    quark: np.ndarray,
    ew: ElectroweakInputs | None = None,
) -> dict[str, np.ndarray]:
    """q q̄ → Z(ℓ⁻ℓ⁺) h: ``|M|²`` as ``sm``, ``lin_<p>`` and ``quad_<p>_<q>`` (p ≤ q in PARAMETERS order).

    ``|M(c)|²`` = sm + Σ_p c_p lin_p + Σ_{p≤q} c_p c_q quad_p_q, exactly. The Z couplings are
    lepton-universal, so the lepton flavour does not enter. Components of parameters that do not
    enter Zh (``dm``, ``dgw_lL``) are zero.

    Parameters
    ----------
    p_q, p_qbar, p_lm, p_lp : ndarray of shape (n, 4)
        (E, px, py, pz) of the incoming quark and antiquark, ℓ⁻ and ℓ⁺ [GeV].
    quark : ndarray of shape (n,)
        PDG id of the incoming quark (1–5, sign ignored).
    ew : ElectroweakInputs, optional
        Electroweak inputs (defaults: PDG values).
    """
    ew = ew or ElectroweakInputs()
    p_q, p_qbar, p_lm, p_lp, quark = _zh_inputs(p_q, p_qbar, p_lm, p_lp, quark)
    structures = _zh_structures(p_q, p_qbar, p_lm, p_lp, quark, ew)
    return _components(_parameter_amplitudes(structures, _ZH_STRUCTURES, ew))


def morph(components: Mapping[str, np.ndarray], point: Mapping[str, float]) -> np.ndarray:
    """``|M|²`` (or a weight) at a parameter ``point`` from its quadratic components."""
    point = _check_point(point)
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
    """q q̄ → Z(ℓ⁻ℓ⁺) h: spin- and colour-averaged ``|M|²`` evaluated directly at ``point``."""
    ew = ew or ElectroweakInputs()
    p_q, p_qbar, p_lm, p_lp, quark = _zh_inputs(p_q, p_qbar, p_lm, p_lp, quark)
    structures = _zh_structures(p_q, p_qbar, p_lm, p_lp, quark, ew)
    return _direct(structures, _ZH_STRUCTURES, point, ew)


def _wh_inputs(p_q, p_qbar, p_l, p_nu, quark, antiquark, ew):
    p_q, p_qbar, p_l, p_nu = (
        _as_momenta(x, name) for x, name in ((p_q, "p_q"), (p_qbar, "p_qbar"), (p_l, "p_l"), (p_nu, "p_nu"))
    )
    n = len(p_q)
    quark, antiquark = _ids(quark, n, "quark"), _ids(antiquark, n, "antiquark")
    aq, aa = np.abs(quark), np.abs(antiquark)
    up_q, up_a = np.isin(aq, (2, 4)), np.isin(aa, (2, 4))
    down_q, down_a = np.isin(aq, (1, 3, 5)), np.isin(aa, (1, 3, 5))
    w_plus = up_q & down_a
    w_minus = down_q & up_a
    bad = ~(w_plus | w_minus)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise DataFormatError(
            f"quark/antiquark: event {i} has ({int(quark[i])}, {int(antiquark[i])}); q q̄' → W h needs "
            "one up-type (2, 4) and one down-type (1, 3, 5) quark"
        )
    vckm = ew.vckm(np.where(w_plus, aq, aa), np.where(w_plus, aa, aq))
    # W⁺ → ℓ⁺ ν: fermion ν, antifermion ℓ⁺;  W⁻ → ℓ⁻ ν̄: fermion ℓ⁻, antifermion ν̄
    p_f = np.where(w_plus[:, None], p_nu, p_l)
    p_fbar = np.where(w_plus[:, None], p_l, p_nu)
    return p_q, p_qbar, p_f, p_fbar, vckm


def me_components_wh(
    p_q: np.ndarray,
    p_qbar: np.ndarray,
    p_l: np.ndarray,
    p_nu: np.ndarray,
    quark: np.ndarray,
    antiquark: np.ndarray,
    ew: ElectroweakInputs | None = None,
) -> dict[str, np.ndarray]:
    """q q̄' → W^±(ℓ^± ν) h: ``|M|²`` as ``sm``, ``lin_<p>``, ``quad_<p>_<q>`` (layout of :func:`me_components`).

    The W couplings are lepton-universal. Components of parameters that do not enter Wh
    (``dgzh_uR``, ``dgzh_dR``, ``dgz_eL``, ``dgz_eR``) are zero.

    Parameters
    ----------
    p_q, p_qbar : ndarray of shape (n, 4)
        (E, px, py, pz) of the incoming quark and antiquark [GeV].
    p_l, p_nu : ndarray of shape (n, 4)
        The charged lepton (ℓ⁺ for W⁺, ℓ⁻ for W⁻) and the (anti)neutrino [GeV].
    quark, antiquark : ndarray of shape (n,)
        PDG ids of the incoming quark and antiquark (sign ignored): u d̄ → W⁺ (2, −1),
        d ū → W⁻ (1, −2), and likewise with c, s, b; CKM magnitudes from ``ew.ckm``.
    ew : ElectroweakInputs, optional
        Electroweak inputs (defaults: PDG values).
    """
    ew = ew or ElectroweakInputs()
    p_q, p_qbar, p_f, p_fbar, vckm = _wh_inputs(p_q, p_qbar, p_l, p_nu, quark, antiquark, ew)
    structures = _wh_structures(p_q, p_qbar, p_f, p_fbar, vckm, ew)
    return _components(_parameter_amplitudes(structures, _WH_STRUCTURES, ew))


def me_squared_wh(
    p_q: np.ndarray,
    p_qbar: np.ndarray,
    p_l: np.ndarray,
    p_nu: np.ndarray,
    quark: np.ndarray,
    antiquark: np.ndarray,
    point: Mapping[str, float] | None = None,
    ew: ElectroweakInputs | None = None,
) -> np.ndarray:
    """q q̄' → W^±(ℓ^± ν) h: spin- and colour-averaged ``|M|²`` evaluated directly at ``point``."""
    ew = ew or ElectroweakInputs()
    p_q, p_qbar, p_f, p_fbar, vckm = _wh_inputs(p_q, p_qbar, p_l, p_nu, quark, antiquark, ew)
    structures = _wh_structures(p_q, p_qbar, p_f, p_fbar, vckm, ew)
    return _direct(structures, _WH_STRUCTURES, point, ew)


def _kallen(s: np.ndarray, m_v: float, m_h: float) -> np.ndarray:
    return (1 - (m_h + m_v) ** 2 / s) * (1 - (m_h - m_v) ** 2 / s)


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
    lam = _kallen(s, ew.m_z, ew.m_h)
    sigma = (
        ew.g_f**2
        * ew.m_z**4
        / (288 * np.pi * s)
        * (v_q**2 + a_q**2)
        * np.sqrt(lam)
        * (lam + 12 * ew.m_z**2 / s)
    )
    return sigma / (1 - ew.m_z**2 / s) ** 2 * GEV2_TO_PB


def analytic_sigma_wh(
    sqrt_s_hat: np.ndarray, ew: ElectroweakInputs | None = None, *, vckm: float = 1.0
) -> np.ndarray:
    """SM LO partonic σ(q q̄' → W^± h) [pb], on-shell W, spin and colour averaged.

    σ = G_F² m_W⁴ V² / (72 π ŝ) λ^{1/2} (λ + 12 m_W²/ŝ) / (1 − m_W²/ŝ)², λ the Källén
    function of (1, m_W²/ŝ, m_h²/ŝ): the Zh formula with (v_q² + a_q²) m_Z⁴ → 4 V² m_W⁴, as the
    W couples as (g/2√2) γ^μ (1 − γ⁵) V and hWW = 2 m_W²/v (Kniehl; Higgs Hunter's Guide).
    V = ``vckm``, the CKM element's magnitude (1 by default: σ per unit V²).
    """
    ew = ew or ElectroweakInputs()
    s = np.asarray(sqrt_s_hat, dtype=np.float64) ** 2
    lam = _kallen(s, ew.m_w, ew.m_h)
    sigma = ew.g_f**2 * ew.m_w**4 * vckm**2 / (72 * np.pi * s) * np.sqrt(lam) * (lam + 12 * ew.m_w**2 / s)
    return sigma / (1 - ew.m_w**2 / s) ** 2 * GEV2_TO_PB
