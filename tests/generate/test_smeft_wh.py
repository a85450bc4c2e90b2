"""Checks of the q q̄' → W(ℓν) h matrix element, the Higgs-basis dependent couplings and the
Zh vertex shifts against analytic results."""

from __future__ import annotations

import numpy as np
import pytest

from hep_aa.exceptions import ConfigError, DataFormatError
from hep_aa.generate import smeft
from hep_aa.generate.smeft import (
    PARAMETERS,
    ElectroweakInputs,
    analytic_sigma_wh,
    higgs_basis_couplings,
    me_components,
    me_components_wh,
    me_squared,
    me_squared_wh,
    morph,
)

EW = ElectroweakInputs()
NWA = ElectroweakInputs(schannel_width=False)  # the analytic formula has no width in the s-channel
# (quark, antiquark) → W charge: u d̄ → W⁺, d ū → W⁻, c s̄ → W⁺, s c̄ → W⁻
CHANNELS = [(2, -1), (1, -2), (4, -3), (3, -4)]


def _boost(p: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Boost four-vectors p (n, 4) by velocity beta (n, 3)."""
    b2 = (beta**2).sum(axis=1)
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = (beta * p[:, 1:]).sum(axis=1)
    g2 = np.where(b2 > 0, (gamma - 1.0) / np.where(b2 > 0, b2, 1.0), 0.0)
    e = gamma * (p[:, 0] + bp)
    vec = p[:, 1:] + (g2 * bp + gamma * p[:, 0])[:, None] * beta
    return np.column_stack([e, vec])


def _kinematics(sqrt_s: float, m_v: float, cos_theta, cos_star, phi_star) -> tuple:
    """q q̄ → V h at fixed √ŝ with on-shell V, then V → f₁ f₂ at (θ*, φ*) in the V frame."""
    cos_theta, cos_star, phi_star = (
        np.atleast_1d(np.asarray(x, float)) for x in (cos_theta, cos_star, phi_star)
    )
    n = len(cos_theta)
    s = sqrt_s**2
    mh = EW.m_h
    e_beam = sqrt_s / 2
    p_q = np.tile([e_beam, 0, 0, e_beam], (n, 1))
    p_qbar = np.tile([e_beam, 0, 0, -e_beam], (n, 1))
    pv = np.sqrt((s - (m_v + mh) ** 2) * (s - (m_v - mh) ** 2)) / (2 * sqrt_s)
    ev = np.sqrt(pv**2 + m_v**2)
    sin_theta = np.sqrt(1 - cos_theta**2)
    vec = np.column_stack([np.full(n, ev), pv * sin_theta, np.zeros(n), pv * cos_theta])
    sin_star = np.sqrt(1 - cos_star**2)
    dir_ = np.column_stack([sin_star * np.cos(phi_star), sin_star * np.sin(phi_star), cos_star])
    f1 = np.column_stack([np.full(n, m_v / 2), m_v / 2 * dir_])
    f2 = np.column_stack([np.full(n, m_v / 2), -m_v / 2 * dir_])
    beta = vec[:, 1:] / vec[:, :1]
    return p_q, p_qbar, _boost(f1, beta), _boost(f2, beta), pv


def _parity(p: np.ndarray) -> np.ndarray:
    return p * np.array([1.0, -1.0, -1.0, -1.0])


def _sigma_wh_nwa(sqrt_s: float, quark: int, antiquark: int, point=None, ew=EW, n_gauss: int = 6) -> float:
    """σ(q q̄' → W h → ℓν h) with an on-shell W by exact quadrature [pb] (|M|² × m_W Γ_W / 2 is
    the narrow-width integral over m²(ℓν) of the Breit–Wigner |M|²)."""
    x, w = np.polynomial.legendre.leggauss(n_gauss)
    nphi = 8
    phis = (np.arange(nphi) + 0.5) * 2 * np.pi / nphi
    ct, cs, ph = np.meshgrid(x, x, phis, indexing="ij")
    wt = (w[:, None, None] * w[None, :, None] * np.full(nphi, 2 * np.pi / nphi)[None, None, :]).ravel()
    p_q, p_qbar, p_l, p_nu, pv = _kinematics(sqrt_s, ew.m_w, ct.ravel(), cs.ravel(), ph.ravel())
    m2 = me_squared_wh(p_q, p_qbar, p_l, p_nu, quark, antiquark, point, ew)
    s = sqrt_s**2
    # dPhi2(W h) = |p| / (16 pi^2 sqrt(s)) dOmega (phi integral = 2 pi); dPhi2(W -> l nu) = dOmega* / (32 pi^2)
    integral = (wt * m2).sum() * 2 * np.pi * pv / (16 * np.pi**2 * sqrt_s) / (32 * np.pi**2)
    return float(integral / (2 * s) * ew.m_w * ew.gamma_w / 2 * smeft.GEV2_TO_PB)


def _br_lnu(ew=EW) -> float:
    """Γ(W → ℓν) / Γ_W with Γ(W → ℓν) = g² m_W / (48 π)."""
    return ew.g**2 * ew.m_w / (48 * np.pi) / ew.gamma_w


@pytest.mark.parametrize(("quark", "antiquark"), CHANNELS)
def test_wh_sm_matches_textbook_cross_section(quark: int, antiquark: int) -> None:
    up = quark if quark % 2 == 0 else -antiquark
    down = -antiquark if quark % 2 == 0 else quark
    vckm = float(NWA.vckm(np.array([up]), np.array([down]))[0])
    for sqrt_s in (210.0, 250.0, 400.0, 700.0, 1500.0, 3000.0):
        numeric = _sigma_wh_nwa(sqrt_s, quark, antiquark, ew=NWA) / _br_lnu(NWA)
        analytic = float(analytic_sigma_wh(sqrt_s, NWA, vckm=vckm))
        assert numeric == pytest.approx(analytic, rel=1e-6), sqrt_s


def test_wh_sm_breit_wigner_in_the_s_channel_is_a_small_correction() -> None:
    """With the W width also in the s-channel propagator the rate moves by O(m_W² Γ_W² / (ŝ − m_W²)²)."""
    for sqrt_s in (250.0, 500.0, 1000.0):
        ratio = _sigma_wh_nwa(sqrt_s, 2, -1, ew=EW) / _sigma_wh_nwa(sqrt_s, 2, -1, ew=NWA)
        s = sqrt_s**2
        expected = (s - EW.m_w**2) ** 2 / ((s - EW.m_w**2) ** 2 + (EW.m_w * EW.gamma_w) ** 2)
        assert ratio == pytest.approx(expected, rel=1e-10)
        assert abs(ratio - 1) < 1e-2


@pytest.mark.parametrize(("quark", "antiquark", "sign"), [(2, -1, 1.0), (1, -2, 1.0), (4, -3, 1.0)])
def test_wh_contact_term_grows_as_s_over_mw2(quark: int, antiquark: int, sign: float) -> None:
    """δg^{Wq}_L = dgzh_uL − dgzh_dL: contact + W-vertex shift give SM × (1 + x), x = δg (ŝ + i m_W Γ_W)/m_W²
    for every angle; the linear term is exactly 2 δg ŝ / m_W² (slope 2 in ŝ/m_W²)."""
    slopes = []
    for sqrt_s in (250.0, 500.0, 1000.0, 2000.0, 4000.0):
        s = sqrt_s**2
        for c in (0.01, -0.003):
            for name, dg in (("dgzh_uL", c), ("dgzh_dL", -c)):
                ratio = _sigma_wh_nwa(sqrt_s, quark, antiquark, {name: c}) / _sigma_wh_nwa(
                    sqrt_s, quark, antiquark
                )
                x = dg * (s + 1j * EW.m_w * EW.gamma_w) / EW.m_w**2
                assert ratio == pytest.approx(abs(1 + x) ** 2, rel=1e-9)
        p_q, p_qbar, p_l, p_nu, _ = _kinematics(sqrt_s, EW.m_w, [0.3, -0.7], [0.1, 0.9], [1.0, 4.0])
        comps = me_components_wh(p_q, p_qbar, p_l, p_nu, quark, antiquark)
        slope = comps["lin_dgzh_uL"] / comps["sm"] / (s / EW.m_w**2)
        np.testing.assert_allclose(slope, 2.0, rtol=1e-9)
        np.testing.assert_allclose(comps["lin_dgzh_dL"], -comps["lin_dgzh_uL"], rtol=1e-12)
        slopes.append(slope)
    # right-handed and Z-lepton parameters do not enter Wh
    for name in ("dgzh_uR", "dgzh_dR", "dgz_eL", "dgz_eR"):
        assert not np.any(comps[f"lin_{name}"])
        assert not np.any(comps[f"quad_{name}_{name}"])


def test_wh_dependent_couplings_enter_as_the_higgs_basis_says() -> None:
    """On-shell W: δc_w = δc_z + 4 δm scales the amplitude, c_w□ = g² c_z□ / (g² − g'²) multiplies it
    by 1 + 2 c_w□ (ŝ + m_W²)/v², and δg^{Wℓ}_L gives 1 + δg (1 + i Γ_W / m_W)."""
    g2, gp2, v = EW.g**2, EW.g_prime**2, EW.v
    for sqrt_s in (300.0, 900.0):
        s = sqrt_s**2
        sm = _sigma_wh_nwa(sqrt_s, 2, -1)
        c = 0.02
        cases = {
            "dcz": 1 + c,
            "dm": 1 + 4 * c,
            "czbox": 1 + 2 * c * g2 / (g2 - gp2) * (s + EW.m_w**2) / v**2,
            "dgw_lL": 1 + c * (1 + 1j * EW.gamma_w / EW.m_w),
        }
        for name, amp in cases.items():
            assert _sigma_wh_nwa(sqrt_s, 2, -1, {name: c}) / sm == pytest.approx(abs(amp) ** 2, rel=1e-9), (
                name
            )


def test_dependent_coupling_relations() -> None:
    g2, gp2, e2, s2 = EW.g**2, EW.g_prime**2, EW.e**2, EW.sw2
    assert e2 == pytest.approx(g2 * gp2 / (g2 + gp2), rel=1e-12)
    point = {"dcz": 0.1, "dm": 0.01, "czz": 0.2, "czbox": -0.3, "czgamma": 0.05, "cgamgam": -0.07}
    point |= {"dgzh_uL": 0.002, "dgzh_dL": -0.001}
    c = higgs_basis_couplings(point, EW)
    assert c["dcw"] == pytest.approx(0.1 + 4 * 0.01)
    assert c["cww"] == pytest.approx(0.2 + 2 * s2 * 0.05 + s2**2 * -0.07)
    cwbox = (g2 * -0.3 + gp2 * 0.2 - e2 * s2 * -0.07 - (g2 - gp2) * s2 * 0.05) / (g2 - gp2)
    assert c["cwbox"] == pytest.approx(cwbox)
    cgambox = (2 * g2 * -0.3 + (g2 + gp2) * 0.2 - e2 * -0.07 - (g2 - gp2) * 0.05) / (g2 - gp2)
    assert c["cgambox"] == pytest.approx(cgambox)
    assert c["dgw_qL"] == pytest.approx(0.003)
    with pytest.raises(ConfigError, match="cHW"):
        higgs_basis_couplings({"cHW": 1.0})


def _random_wh_events(rng: np.random.Generator, n: int, sqrt_s: float = 800.0) -> tuple:
    p_q, p_qbar, p_l, p_nu, _ = _kinematics(
        sqrt_s, EW.m_w, rng.uniform(-1, 1, n), rng.uniform(-1, 1, n), rng.uniform(0, 2 * np.pi, n)
    )
    pairs = np.array([(2, -1), (1, -2), (4, -3), (3, -4), (2, -3), (4, -1), (2, -5), (5, -2)])
    quark, antiquark = pairs[rng.integers(0, len(pairs), n)].T
    return p_q, p_qbar, p_l, p_nu, quark, antiquark


def test_wh_components_reproduce_direct_evaluation() -> None:
    rng = np.random.default_rng(11)
    p_q, p_qbar, p_l, p_nu, quark, antiquark = _random_wh_events(rng, 60)
    comps = me_components_wh(p_q, p_qbar, p_l, p_nu, quark, antiquark)
    n_par = len(PARAMETERS)
    assert set(comps) == set(me_components(p_q, p_qbar, p_l, p_nu, np.ones(60, int)))
    assert len(comps) == 1 + n_par + n_par * (n_par + 1) // 2
    np.testing.assert_allclose(
        comps["sm"], me_squared_wh(p_q, p_qbar, p_l, p_nu, quark, antiquark), rtol=1e-12
    )
    for _ in range(5):
        point = {p: rng.normal(0, 0.1) for p in PARAMETERS}
        direct = me_squared_wh(p_q, p_qbar, p_l, p_nu, quark, antiquark, point)
        np.testing.assert_allclose(morph(comps, point), direct, rtol=1e-10)


def _assert_psd(comps: dict[str, np.ndarray]) -> None:
    """|M(c)|² = (1, c)ᵀ M (1, c) with M positive semi-definite for every event."""
    names = ("sm", *PARAMETERS)
    n = len(comps["sm"])
    mat = np.zeros((n, len(names), len(names)))
    mat[:, 0, 0] = comps["sm"]
    for i, p in enumerate(PARAMETERS, start=1):
        mat[:, 0, i] = mat[:, i, 0] = comps[f"lin_{p}"] / 2
        for j, q in enumerate(PARAMETERS[i - 1 :], start=i):
            val = comps[f"quad_{p}_{q}"]
            if i == j:
                mat[:, i, i] = val
            else:
                mat[:, i, j] = mat[:, j, i] = val / 2
    scale = np.abs(mat).max(axis=(1, 2))
    eig = np.linalg.eigvalsh(mat)
    assert np.all(eig.min(axis=1) >= -1e-9 * scale)
    # and the rate is positive at random points far from the SM
    rng = np.random.default_rng(3)
    for _ in range(20):
        assert np.all(morph(comps, {p: rng.normal(0, 1.0) for p in PARAMETERS}) >= 0)


def test_quadratic_forms_are_positive_semidefinite() -> None:
    rng = np.random.default_rng(5)
    p_q, p_qbar, p_l, p_nu, quark, antiquark = _random_wh_events(rng, 40, sqrt_s=1500.0)
    _assert_psd(me_components_wh(p_q, p_qbar, p_l, p_nu, quark, antiquark))
    p_q, p_qbar, p_lm, p_lp, _ = _kinematics(
        1500.0, EW.m_z, rng.uniform(-1, 1, 40), rng.uniform(-1, 1, 40), rng.uniform(0, 6, 40)
    )
    _assert_psd(me_components(p_q, p_qbar, p_lm, p_lp, rng.choice([1, 2, 3, 4, 5], 40)))


def test_wh_charge_conjugation_symmetry() -> None:
    """CP: |M(u(p₁) d̄(p₂) → ℓ⁺(p₃) ν(p₄))|² = |M(d(−p₂) ū(−p₁) → ℓ⁻(−p₃) ν̄(−p₄))|² (3-momenta
    reversed), for every component (all couplings are CP-even)."""
    rng = np.random.default_rng(2)
    n = 30
    p_q, p_qbar, p_l, p_nu, _ = _kinematics(
        700.0, EW.m_w, rng.uniform(-1, 1, n), rng.uniform(-1, 1, n), rng.uniform(0, 6, n)
    )
    for up, down in ((2, 1), (4, 3), (2, 3)):
        plus = me_components_wh(p_q, p_qbar, p_l, p_nu, up, -down)
        minus = me_components_wh(
            _parity(p_qbar), _parity(p_q), _parity(p_l), _parity(p_nu), np.full(n, down), np.full(n, -up)
        )
        for key, val in plus.items():
            np.testing.assert_allclose(
                minus[key], val, rtol=1e-9, atol=1e-12 * np.abs(plus["sm"]).max(), err_msg=key
            )
    # a W⁻ event is not a W⁺ event with the labels swapped: the V−A angular correlation flips
    swapped = me_components_wh(p_q, p_qbar, p_l, p_nu, 1, -2)["sm"]
    assert not np.allclose(swapped, plus["sm"])


def test_wh_rejects_a_neutral_quark_pair() -> None:
    p = np.array([[100.0, 0, 0, 100.0]])
    with pytest.raises(DataFormatError, match=r"event 0 has \(2, -2\)"):
        me_components_wh(p, p, p, p, 2, -2)
    with pytest.raises(DataFormatError, match="shape"):
        me_squared_wh(p[0, :3], p, p, p, 2, -1)


def _high_energy_growth(sqrt_s: float) -> dict[str, dict[str, float]]:
    """Energy-growing coefficient G of the left-handed-quark, longitudinal amplitude per unit parameter:
    M_p / M_SM → G ŝ / (g_L^f m_Z²) for Zh (f = u, d) and G ŝ / m_W² for Wh."""
    p_q, p_qbar, p_lm, p_lp, _ = _kinematics(sqrt_s, EW.m_z, [0.2], [0.3], [0.5])
    out: dict[str, dict[str, float]] = {}
    s = sqrt_s**2
    for flavour, quark in (("u", 2), ("d", 1)):
        st = smeft._zh_structures(p_q, p_qbar, p_lm, p_lp, np.array([quark]), EW)
        amps = smeft._parameter_amplitudes(st, smeft._ZH_STRUCTURES, EW)
        g_l = EW.couplings(quark)[0]
        # helicity configuration 0: left-handed quark current, left-handed lepton current
        out[flavour] = {
            p: float((amps[p][0] / amps["sm"][0]).real[0]) * g_l * EW.m_z**2 / s for p in PARAMETERS
        }
        no_photon = {k: v for k, v in st.items() if k != "cgambox"}
        amps = smeft._parameter_amplitudes(
            no_photon, tuple(k for k in smeft._ZH_STRUCTURES if k != "cgambox"), EW
        )
        out[flavour + "_no_photon"] = {
            p: float((amps[p][0] / amps["sm"][0]).real[0]) * g_l * EW.m_z**2 / s for p in PARAMETERS
        }
    p_q, p_qbar, p_l, p_nu, _ = _kinematics(sqrt_s, EW.m_w, [0.2], [0.3], [0.5])
    st = smeft._wh_structures(p_q, p_qbar, p_nu, p_l, np.array([1.0]), EW)
    amps = smeft._parameter_amplitudes(st, smeft._WH_STRUCTURES, EW)
    out["w"] = {p: float((amps[p][0] / amps["sm"][0]).real[0]) * EW.m_w**2 / s for p in PARAMETERS}
    return out


def test_zh_and_wh_high_energy_growth_obey_the_su2_relation() -> None:
    """Goldstone equivalence: q q̄ → Z_L h and q q̄' → W_L h come from the same SU(2)-invariant operators,
    so the energy-growing parts satisfy G(u_L) − G(d_L) = G(W) for every parameter. In the Higgs
    basis this holds only with the dependent c_w□, δg^{Wq}, and c_γ□ in q q̄ → γ* → Z h."""
    g = _high_energy_growth(1.0e5)
    scale = max(abs(x) for x in g["w"].values())
    for p in PARAMETERS:
        assert g["u"][p] - g["d"][p] == pytest.approx(g["w"][p], abs=2e-3 * scale), p
    # the relation is non-trivial: contact terms and c_z□ / c_zz grow, and without γ* → Z h it fails
    assert g["w"]["dgzh_uL"] == pytest.approx(1.0, rel=1e-3)
    assert g["w"]["czbox"] == pytest.approx(EW.g**2 / 2 * EW.g**2 / (EW.g**2 - EW.g_prime**2), rel=1e-2)
    for p in ("czz", "czbox", "czgamma"):
        assert abs(g["w"][p]) > 0.02 * scale
        assert abs(g["u_no_photon"][p] - g["d_no_photon"][p] - g["w"][p]) > 0.1 * abs(g["w"][p]), p


def test_zh_lepton_vertex_shift_and_contact() -> None:
    """dgz_eL = c: Zℓℓ vertex shift plus hZℓℓ contact; on the Z peak the left-handed-lepton amplitudes are
    SM × (1 + (c/g_L^ℓ)(1 + i Γ_Z/m_Z)) at every angle."""
    from tests.generate.test_smeft import _sigma_nwa

    gl, gr = EW.couplings(11)
    for quark in (1, 2):
        for sqrt_s in (300.0, 1000.0):
            sm = _sigma_nwa(sqrt_s, quark)
            for c in (0.01, -0.02):
                amp = 1 + c / gl * (1 + 1j * EW.gamma_z / EW.m_z)
                expected = (gl**2 * abs(amp) ** 2 + gr**2) / (gl**2 + gr**2)
                assert _sigma_nwa(sqrt_s, quark, {"dgz_eL": c}) / sm == pytest.approx(expected, rel=1e-9)
                amp = 1 + c / gr * (1 + 1j * EW.gamma_z / EW.m_z)
                expected = (gl**2 + gr**2 * abs(amp) ** 2) / (gl**2 + gr**2)
                assert _sigma_nwa(sqrt_s, quark, {"dgz_eR": c}) / sm == pytest.approx(expected, rel=1e-9)


def test_zh_vertex_shift_raises_the_linear_term_by_s_over_s_minus_mz2() -> None:
    """The qqZ vertex shift that comes with δg^{hZq} = δg^{Zq} adds m_Z²/(ŝ − m_Z²) to the contact term's
    interference (narrow Z, no s-channel width): +15 % at √ŝ = 250 GeV, +2.4 % at 600 GeV."""
    for sqrt_s, size in ((250.0, 0.153), (300.0, 0.102), (600.0, 0.0237), (1200.0, 0.0058)):
        p_q, p_qbar, p_lm, p_lp, _ = _kinematics(sqrt_s, EW.m_z, [0.4, -0.2], [0.5, -0.6], [1.0, 2.0])
        st = smeft._zh_structures(p_q, p_qbar, p_lm, p_lp, np.array([2, 2]), NWA)
        sm = st["sm"]
        # configurations 0, 1 have a left-handed quark current: there the vertex shift is SM / g_L
        g_l = NWA.couplings(2)[0]
        contact_only = [
            a - (s / g_l if i < 2 else 0.0) for i, (a, s) in enumerate(zip(st["dgzh_uL"], sm, strict=True))
        ]
        lin_full = sum(2 * (s.conj() * a).real for s, a in zip(sm, st["dgzh_uL"], strict=True))
        lin_contact = sum(2 * (s.conj() * a).real for s, a in zip(sm, contact_only, strict=True))
        s = sqrt_s**2
        np.testing.assert_allclose(lin_full / lin_contact, s / (s - EW.m_z**2), rtol=1e-9)
        assert lin_full[0] / lin_contact[0] - 1 == pytest.approx(size, abs=5e-4)


def test_zh_photon_parameters_enter_and_mw_parameters_do_not() -> None:
    rng = np.random.default_rng(9)
    p_q, p_qbar, p_lm, p_lp, _ = _kinematics(
        1000.0, EW.m_z, rng.uniform(-1, 1, 20), rng.uniform(-1, 1, 20), rng.uniform(0, 6, 20)
    )
    comps = me_components(p_q, p_qbar, p_lm, p_lp, rng.choice([1, 2], 20))
    for name in ("dm", "dgw_lL"):
        assert not np.any(comps[f"lin_{name}"])
        assert not np.any(comps[f"quad_{name}_{name}"])
    for name in ("czgamma", "cgamgam", "czz", "czbox"):
        assert np.all(comps[f"quad_{name}_{name}"] > 0)
    direct = me_squared(p_q, p_qbar, p_lm, p_lp, 2, {"czgamma": 0.1, "cgamgam": -0.2})
    np.testing.assert_allclose(
        morph(me_components(p_q, p_qbar, p_lm, p_lp, 2), {"czgamma": 0.1, "cgamgam": -0.2}),
        direct,
        rtol=1e-10,
    )


def test_custodial_limit_relates_the_zh_and_wh_boson_couplings() -> None:
    """With g' → 0 (m_W = m_Z, Γ_W = Γ_Z, V_ud = 1) c_ww = c_zz, c_w□ = c_z□, the photon decouples and
    the u_L ū → Z(ℓ_L) h amplitude is −1/2 (= 2 g_L^u g_L^ℓ) of u d̄ → W⁺(ℓν) h, parameter by parameter."""
    ew = ElectroweakInputs(m_w=EW.m_z, gamma_w=EW.gamma_z, ckm=((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)))
    assert ew.g_prime == 0.0
    rng = np.random.default_rng(4)
    p_q, p_qbar, p_lm, p_lp, _ = _kinematics(
        900.0, EW.m_z, rng.uniform(-1, 1, 10), rng.uniform(-1, 1, 10), rng.uniform(0, 6, 10)
    )
    st = smeft._zh_structures(p_q, p_qbar, p_lm, p_lp, np.full(10, 2), ew)
    z = smeft._parameter_amplitudes(st, smeft._ZH_STRUCTURES, ew)
    st = smeft._wh_structures(p_q, p_qbar, p_lm, p_lp, np.ones(10), ew)
    w = smeft._parameter_amplitudes(st, smeft._WH_STRUCTURES, ew)
    for p in ("sm", "dcz", "czz", "czbox"):
        np.testing.assert_allclose(z[p][0], -0.5 * w[p][0], rtol=1e-10, err_msg=p)


def _zh_point_amplitudes(point: dict[str, float], quark: int, sqrt_s: float) -> np.ndarray:
    """Zh helicity amplitudes at ``point`` (order: (q_L, ℓ_L), (q_L, ℓ_R), (q_R, ℓ_L), (q_R, ℓ_R))."""
    p_q, p_qbar, p_lm, p_lp, _ = _kinematics(sqrt_s, EW.m_z, [0.3], [-0.4], [0.7])
    st = smeft._zh_structures(p_q, p_qbar, p_lm, p_lp, np.array([quark]), EW)
    amps = smeft._parameter_amplitudes(st, smeft._ZH_STRUCTURES, EW)
    return np.array([sum(c * amps[p][i][0] for p, c in point.items()) for i in range(4)])


def test_zh_tensor_couplings_of_pure_w3_and_b_operators() -> None:
    """(H†H) W^a W^a gives h W³W³ = h (c Z + s A)² only: (c_zz, c_zγ, c_γγ) ∝ (c⁴, c², 1) with c_w□ = c_γ□ = 0;
    (H†H) B B gives (s²c², −c², c²/s²). At ŝ ≫ m_Z² the quark line then couples through W³ (∝ T3: no
    right-handed quark, u_L = −d_L) or B (∝ Y: u_R = −2 d_R, u_L = d_L) only — which fixes the relative
    signs of the c_zz, c_zγ, c_γγ vertices and of the photon and Z couplings."""
    c2, s2 = EW.cw2, EW.sw2
    o_hw = {"czz": c2**2, "czgamma": c2, "cgamgam": 1.0}
    o_hb = {"czz": s2 * c2, "czgamma": -c2, "cgamgam": c2 / s2}
    for point in (o_hw, o_hb):
        dep = higgs_basis_couplings(point, EW)
        assert dep["cwbox"] == pytest.approx(0.0, abs=1e-12)
        assert dep["cgambox"] == pytest.approx(0.0, abs=1e-12)
    sqrt_s = 1.0e5
    u, d = _zh_point_amplitudes(o_hw, 2, sqrt_s), _zh_point_amplitudes(o_hw, 1, sqrt_s)
    for amps in (u, d):
        assert np.all(np.abs(amps[2:]) < 1e-5 * np.abs(amps[:2]))  # no W³ coupling of q_R
    np.testing.assert_allclose(u[:2] / d[:2], -1.0, rtol=1e-5)
    u, d = _zh_point_amplitudes(o_hb, 2, sqrt_s), _zh_point_amplitudes(o_hb, 1, sqrt_s)
    np.testing.assert_allclose(u[:2] / d[:2], 1.0, rtol=1e-5)
    np.testing.assert_allclose(u[2:] / d[2:], -2.0, rtol=1e-5)
    # a flipped c_zγ sign would let right-handed quarks couple to W³
    flipped = _zh_point_amplitudes({**o_hw, "czgamma": -c2}, 2, sqrt_s)
    assert np.all(np.abs(flipped[2:]) > 0.1 * np.abs(flipped[:2]))
