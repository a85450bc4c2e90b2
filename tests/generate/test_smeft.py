"""Checks of the q q̄ → Z(ℓℓ) h matrix element against analytic results."""

from __future__ import annotations

import numpy as np
import pytest

from hep_aa.generate.smeft import (
    PARAMETERS,
    ElectroweakInputs,
    analytic_sigma_zh,
    me_components,
    me_squared,
    morph,
)

EW = ElectroweakInputs()
NWA = ElectroweakInputs(schannel_width=False)  # the analytic formula has no width in the s-channel


def _boost(p: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Boost four-vectors p (n, 4) by velocity beta (n, 3)."""
    b2 = (beta**2).sum(axis=1)
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = (beta * p[:, 1:]).sum(axis=1)
    g2 = np.where(b2 > 0, (gamma - 1.0) / np.where(b2 > 0, b2, 1.0), 0.0)
    e = gamma * (p[:, 0] + bp)
    vec = p[:, 1:] + (g2 * bp + gamma * p[:, 0])[:, None] * beta
    return np.column_stack([e, vec])


def _kinematics(sqrt_s: float, cos_theta: np.ndarray, cos_star: np.ndarray, phi_star: np.ndarray) -> tuple:
    """q q̄ → Z h at fixed sqrt(s-hat) with on-shell Z, then Z → ℓ⁻ℓ⁺ at (θ*, φ*) in the Z frame."""
    n = len(cos_theta)
    s = sqrt_s**2
    mz, mh = EW.m_z, EW.m_h
    e_beam = sqrt_s / 2
    p_q = np.tile([e_beam, 0, 0, e_beam], (n, 1))
    p_qbar = np.tile([e_beam, 0, 0, -e_beam], (n, 1))
    pz = np.sqrt((s - (mz + mh) ** 2) * (s - (mz - mh) ** 2)) / (2 * sqrt_s)
    ez = np.sqrt(pz**2 + mz**2)
    sin_theta = np.sqrt(1 - cos_theta**2)
    z = np.column_stack([np.full(n, ez), pz * sin_theta, np.zeros(n), pz * cos_theta])
    sin_star = np.sqrt(1 - cos_star**2)
    dir_ = np.column_stack([sin_star * np.cos(phi_star), sin_star * np.sin(phi_star), cos_star])
    lm_rest = np.column_stack([np.full(n, mz / 2), mz / 2 * dir_])
    lp_rest = np.column_stack([np.full(n, mz / 2), -mz / 2 * dir_])
    beta = z[:, 1:] / z[:, :1]
    return p_q, p_qbar, _boost(lm_rest, beta), _boost(lp_rest, beta), pz


def _sigma_nwa(
    sqrt_s: float, quark: int, point: dict | None = None, n_gauss: int = 6, ew: ElectroweakInputs = EW
) -> float:
    """σ(q q̄ → Z h → ℓℓ h) in the narrow-width limit by exact quadrature [pb]."""
    x, w = np.polynomial.legendre.leggauss(n_gauss)
    nphi = 8
    phis = (np.arange(nphi) + 0.5) * 2 * np.pi / nphi
    ct, cs, ph = np.meshgrid(x, x, phis, indexing="ij")
    wt = (w[:, None, None] * w[None, :, None] * np.full(nphi, 2 * np.pi / nphi)[None, None, :]).ravel()
    p_q, p_qbar, p_lm, p_lp, pz = _kinematics(sqrt_s, ct.ravel(), cs.ravel(), ph.ravel())
    m2 = me_squared(p_q, p_qbar, p_lm, p_lp, np.full(len(wt), quark), point, ew)
    s = sqrt_s**2
    # dPhi2(Z h) = |p| / (16 pi^2 sqrt(s)) dOmega (phi integral = 2 pi); dPhi2(Z -> ll) = dOmega* / (32 pi^2)
    integral = (wt * m2).sum() * 2 * np.pi * pz / (16 * np.pi**2 * sqrt_s) / (32 * np.pi**2)
    return float(integral / (2 * s) * EW.m_z * EW.gamma_z / 2 * 0.3893793721e9)


def _br_ll() -> float:
    g_l, g_r = EW.couplings(11)
    return EW.g_z**2 * EW.m_z * (g_l**2 + g_r**2) / (24 * np.pi) / EW.gamma_z


@pytest.mark.parametrize("quark", [1, 2])
def test_sm_matches_analytic_cross_section(quark: int) -> None:
    for sqrt_s in np.geomspace(250.0, 3000.0, 12):
        numeric = _sigma_nwa(sqrt_s, quark, ew=NWA) / _br_ll()
        analytic = float(analytic_sigma_zh(sqrt_s, quark, EW))
        assert numeric == pytest.approx(analytic, rel=1e-6), sqrt_s


def test_quadratic_morphing_is_exact() -> None:
    rng = np.random.default_rng(7)
    n = 50
    p_q, p_qbar, p_lm, p_lp, _ = _kinematics(
        900.0, rng.uniform(-1, 1, n), rng.uniform(-1, 1, n), rng.uniform(0, 6, n)
    )
    quark = rng.choice([1, 2, 3, 4], n)
    comps = me_components(p_q, p_qbar, p_lm, p_lp, quark, ew=EW)
    n_par = len(PARAMETERS)
    assert len(comps) == 1 + n_par + n_par * (n_par + 1) // 2
    for _ in range(5):
        point = {p: rng.normal(0, 0.1) for p in PARAMETERS}
        direct = me_squared(p_q, p_qbar, p_lm, p_lp, quark, point, EW)
        np.testing.assert_allclose(morph(comps, point), direct, rtol=1e-10)
    np.testing.assert_allclose(comps["sm"], me_squared(p_q, p_qbar, p_lm, p_lp, quark, None, EW), rtol=1e-12)


def test_contact_term_grows_with_energy_as_interference_predicts() -> None:
    """For u ū with dgzh_uL = c, the angle-integrated ratio SMEFT/SM at fixed s-hat is
    [g_L² |1 + x|² + g_R²] / (g_L² + g_R²), x = c (ŝ + i m_Z Γ_Z) / (g_L m_Z²): the hZqq contact
    term gives c D_P / (g_L m_Z²), the Higgs-basis qqZ vertex shift δg^{Zu}_L = c adds c / g_L."""
    g_l, g_r = EW.couplings(2)
    ratios = {}
    for c in (0.01, -0.01):
        rs = []
        for sqrt_s in (300.0, 600.0, 1200.0, 2400.0):
            ratio = _sigma_nwa(sqrt_s, 2, {"dgzh_uL": c}) / _sigma_nwa(sqrt_s, 2)
            x = c * (sqrt_s**2 + 1j * EW.m_z * EW.gamma_z) / (g_l * EW.m_z**2)
            expected = (g_l**2 * abs(1 + x) ** 2 + g_r**2) / (g_l**2 + g_r**2)
            assert ratio == pytest.approx(expected, rel=1e-8)
            rs.append(ratio)
        ratios[c] = rs
    # the deviation grows with energy, and the sign of the interference follows the coupling
    assert np.all(np.diff(np.abs(np.array(ratios[0.01]) - 1)) > 0)
    lin = {c: np.array(r) - 1 for c, r in ratios.items()}
    quad = (lin[0.01] + lin[-0.01]) / 2
    assert np.all((lin[0.01] - quad) * (lin[-0.01] - quad) < 0)
    # g_L(u) = 1/2 - 2/3 s_w^2 > 0: a positive dgzh_uL interferes constructively
    assert np.all(lin[0.01] - quad > 0)
