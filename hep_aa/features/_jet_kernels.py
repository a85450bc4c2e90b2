"""Compiled per-jet loops of :mod:`hep_aa.features.jets`: exclusive-kT subjet axes and
N-subjettiness (numba, compiled once and cached next to this file).

Imported lazily by :mod:`hep_aa.features.jets` (numba's import costs ≈ 0.5 s), so that only
commands that compute jet substructure pay for it.

Both kernels loop over jets given as flat constituent arrays (``px, py, pz, E``) and
``offsets`` (jet ``j`` owns ``offsets[j]:offsets[j + 1]``):

- :func:`exclusive_kt_axes`: FastJet's ``N2Plain`` kT clustering (``ClusterSequence::
  _simple_N2_cluster``) of each jet's constituents at R = 1000, E-scheme, replayed step for
  step — same nearest-neighbour bookkeeping, same strict ``<`` tie-breaking, same rapidity and
  φ ∈ [0, 2π) of ``PseudoJet`` — recording the pseudojets present when 3, 2 and 1 remain (the
  ``exclusive_jets(n)`` axes);
- :func:`nsubjettiness_taus`: fastjet-contrib's one-pass minimisation
  (``OnePass_KT_Axes``, β = 1: repeat {assign each constituent to its nearest axis; move each
  axis to Σ w·(y, φ) / Σ w with w = pT / √(ε² + ΔR²)} until the mean axis displacement is
  ≤ ε = 1e-4, at most 1000 updates) and τN = Σ pT·min ΔR / (Σ pT · R0).
"""

from __future__ import annotations

import math

import numba
import numpy as np

PI = math.pi
TWOPI = 2.0 * math.pi
#: PseudoJet::MaxRap: the rapidity given to a particle with pT = 0 and E = |pz|
MAX_RAP = 1e5
#: the kT clustering radius of the exclusive axes (contrib: JetDefinition::max_allowable_R)
R2 = 1000.0**2

_jit = numba.njit(cache=True, nogil=True)


@_jit
def rap_phi(px: float, py: float, pz: float, e: float) -> tuple[float, float]:
    """Rapidity and φ ∈ [0, 2π) exactly as ``PseudoJet::_finish_init``."""
    kt2 = px * px + py * py
    if kt2 == 0.0:
        phi = 0.0
    else:
        phi = math.atan2(py, px)
        if phi < 0.0:
            phi += TWOPI
        if phi >= TWOPI:
            phi -= TWOPI
    if e == abs(pz) and kt2 == 0.0:
        rap = MAX_RAP + abs(pz)
        if pz < 0.0:
            rap = -rap
    else:
        m2 = max(0.0, (e + pz) * (e - pz) - kt2)
        e_plus_pz = e + abs(pz)
        rap = 0.5 * math.log((kt2 + m2) / (e_plus_pz * e_plus_pz))
        if pz > 0.0:
            rap = -rap
    return rap, phi


@_jit
def dist2(y1: float, phi1: float, y2: float, phi2: float) -> float:
    """ΔR² in (rapidity, φ), as ``PseudoJet::plain_distance`` and the N2Plain ``_bj_dist``."""
    dphi = abs(phi1 - phi2)
    if dphi > PI:
        dphi = TWOPI - dphi
    dy = y1 - y2
    return dphi * dphi + dy * dy


@_jit
def _dist_row(i: int, m: int, y: np.ndarray, phi: np.ndarray, out: np.ndarray) -> None:
    """out[k] = dist2(jet i, jet k) for k < m: branch-free, so the compiler vectorises it."""
    yi, phii = y[i], phi[i]
    for k in range(m):
        dphi = abs(phii - phi[k])
        dphi = TWOPI - dphi if dphi > PI else dphi
        dy = yi - y[k]
        out[k] = dphi * dphi + dy * dy


@_jit
def _nn_nocross(
    i: int, m: int, y: np.ndarray, phi: np.ndarray, nn: np.ndarray, nnd: np.ndarray, tmp: np.ndarray
) -> None:
    _dist_row(i, m, y, phi, tmp)
    best, dbest = -1, R2
    for k in range(m):
        if k != i and tmp[k] < dbest:
            dbest = tmp[k]
            best = k
    nnd[i] = dbest
    nn[i] = best


@_jit
def _dij(i: int, kt2: np.ndarray, nn: np.ndarray, nnd: np.ndarray) -> float:
    k = kt2[i]
    if nn[i] >= 0 and kt2[nn[i]] < k:
        k = kt2[nn[i]]
    return nnd[i] * k


@_jit
def exclusive_kt_axes(
    px: np.ndarray, py: np.ndarray, pz: np.ndarray, e: np.ndarray, offsets: np.ndarray, n_max: int
) -> np.ndarray:
    """``out[j, n - 1, a]`` = (px, py, pz, E) of exclusive-kT axis ``a`` of jet ``j`` when ``n``
    subjets remain (n = 1..n_max); NaN where the jet has at most ``n`` constituents."""
    n_jets = len(offsets) - 1
    out = np.full((n_jets, n_max, n_max, 4), np.nan)
    cap = 1
    for j in range(n_jets):
        cap = max(cap, offsets[j + 1] - offsets[j])
    jx, jy, jz, je = np.empty(cap), np.empty(cap), np.empty(cap), np.empty(cap)
    y, phi, kt2 = np.empty(cap), np.empty(cap), np.empty(cap)
    nn = np.empty(cap, dtype=np.int64)
    nnd, dij = np.empty(cap), np.empty(cap)
    tmp, dnew = np.empty(cap), np.empty(cap)
    for j in range(n_jets):
        lo = offsets[j]
        n = offsets[j + 1] - lo
        if n <= 1:
            continue
        for i in range(n):
            jx[i], jy[i], jz[i], je[i] = px[lo + i], py[lo + i], pz[lo + i], e[lo + i]
            y[i], phi[i] = rap_phi(jx[i], jy[i], jz[i], je[i])
            kt2[i] = jx[i] * jx[i] + jy[i] * jy[i]
            nnd[i] = R2
            nn[i] = -1
        # _bj_set_NN_crosscheck of each jet against the jets before it
        for i in range(1, n):
            _dist_row(i, i, y, phi, tmp)
            for k in range(i):
                d = tmp[k]
                if d < nnd[i]:
                    nnd[i] = d
                    nn[i] = k
                if d < nnd[k]:
                    nnd[k] = d
                    nn[k] = i
        for i in range(n):
            dij[i] = _dij(i, kt2, nn, nnd)
        m = n
        while m >= 1:
            if m <= n_max:
                for a in range(m):
                    out[j, m - 1, a, 0] = jx[a]
                    out[j, m - 1, a, 1] = jy[a]
                    out[j, m - 1, a, 2] = jz[a]
                    out[j, m - 1, a, 3] = je[a]
            if m == 1:
                break
            best = 0
            dmin = dij[0]
            for i in range(1, m):
                if dij[i] < dmin:
                    dmin = dij[i]
                    best = i
            a_ = best
            b_ = nn[best]
            tail = m - 1
            if b_ >= 0:
                if a_ < b_:
                    a_, b_ = b_, a_
                # E-scheme recombination into jetB's slot
                jx[b_] += jx[a_]
                jy[b_] += jy[a_]
                jz[b_] += jz[a_]
                je[b_] += je[a_]
                y[b_], phi[b_] = rap_phi(jx[b_], jy[b_], jz[b_], je[b_])
                kt2[b_] = jx[b_] * jx[b_] + jy[b_] * jy[b_]
                nnd[b_] = R2
                nn[b_] = -1
            # the tail jet moves into jetA's slot
            jx[a_], jy[a_], jz[a_], je[a_] = jx[tail], jy[tail], jz[tail], je[tail]
            y[a_], phi[a_], kt2[a_] = y[tail], phi[tail], kt2[tail]
            nn[a_], nnd[a_], dij[a_] = nn[tail], nnd[tail], dij[tail]
            m -= 1
            if b_ >= 0:
                _dist_row(b_, m, y, phi, dnew)  # the new jet's distance to every jet
            for i in range(m):
                # (a beam step has b_ = -1: as in FastJet, jets without a neighbour look again)
                if nn[i] == a_ or nn[i] == b_:
                    _nn_nocross(i, m, y, phi, nn, nnd, tmp)
                    dij[i] = _dij(i, kt2, nn, nnd)
                if b_ >= 0:
                    d = dnew[i]
                    if d < nnd[i] and i != b_:
                        nnd[i] = d
                        nn[i] = b_
                        dij[i] = _dij(i, kt2, nn, nnd)
                    if d < nnd[b_] and i != b_:
                        nnd[b_] = d
                        nn[b_] = i
                if nn[i] == tail:
                    nn[i] = a_
            if b_ >= 0:
                dij[b_] = _dij(b_, kt2, nn, nnd)
    return out


@_jit
def nsubjettiness_taus(
    px: np.ndarray,
    py: np.ndarray,
    pz: np.ndarray,
    e: np.ndarray,
    offsets: np.ndarray,
    axes: np.ndarray,
    r0: float,
    onepass: bool,
    accuracy: float,
    max_iterations: int,
) -> np.ndarray:
    """τ1..τ_{n_max} of each jet from the seed ``axes`` of :func:`exclusive_kt_axes`,
    minimised first when ``onepass``; τN = 0 for a jet with at most N constituents."""
    n_jets = len(offsets) - 1
    n_max = axes.shape[1]
    out = np.zeros((n_jets, n_max))
    cap = 1
    for j in range(n_jets):
        cap = max(cap, offsets[j + 1] - offsets[j])
    y, phi, pt = np.empty(cap), np.empty(cap), np.empty(cap)
    ay, aphi = np.empty(n_max), np.empty(n_max)
    sw, sy, sphi = np.empty(n_max), np.empty(n_max), np.empty(n_max)
    eps2 = accuracy * accuracy
    for j in range(n_jets):
        lo = offsets[j]
        n = offsets[j + 1] - lo
        d0 = 0.0
        for i in range(n):
            y[i], phi[i] = rap_phi(px[lo + i], py[lo + i], pz[lo + i], e[lo + i])
            pt[i] = math.sqrt(px[lo + i] * px[lo + i] + py[lo + i] * py[lo + i])
            d0 += pt[i]
        d0 *= r0
        for nax in range(1, n_max + 1):
            if n <= nax or d0 <= 0.0:
                continue
            for a in range(nax):
                ax = axes[j, nax - 1, a]
                ay[a], aphi[a] = rap_phi(ax[0], ax[1], ax[2], ax[3])
            if onepass:
                for _ in range(max_iterations):
                    for a in range(nax):
                        sw[a] = 0.0
                        sy[a] = 0.0
                        sphi[a] = 0.0
                    for i in range(n):
                        best = 0
                        dbest = dist2(y[i], phi[i], ay[0], aphi[0])
                        for a in range(1, nax):
                            d = dist2(y[i], phi[i], ay[a], aphi[a])
                            if d < dbest:
                                dbest = d
                                best = a
                        dphi = phi[i] - aphi[best]
                        if dphi > PI:
                            dphi -= TWOPI
                        elif dphi < -PI:
                            dphi += TWOPI
                        w = pt[i] / math.sqrt(eps2 + dbest)
                        sw[best] += w
                        sy[best] += w * y[i]
                        sphi[best] += w * (aphi[best] + dphi)
                    move = 0.0
                    for a in range(nax):
                        if sw[a] > 0.0:
                            ny = sy[a] / sw[a]
                            nphi = sphi[a] / sw[a]
                            if nphi < 0.0:
                                nphi += TWOPI
                            elif nphi >= TWOPI:
                                nphi -= TWOPI
                            move += math.sqrt(dist2(ny, nphi, ay[a], aphi[a]))
                            ay[a] = ny
                            aphi[a] = nphi
                    if move / nax <= accuracy:
                        break
            num = 0.0
            for i in range(n):
                dbest = dist2(y[i], phi[i], ay[0], aphi[0])
                for a in range(1, nax):
                    d = dist2(y[i], phi[i], ay[a], aphi[a])
                    if d < dbest:
                        dbest = d
                num += pt[i] * math.sqrt(dbest)
            out[j, nax - 1] = num / d0
    return out


@_jit
def leading_pair(jet_offsets: np.ndarray, pt: np.ndarray) -> np.ndarray:
    """Indices of the two highest-pT jets of each event (first on equal pT), -1 where an event
    has fewer than two jets; shape (n_events, 2)."""
    n_events = len(jet_offsets) - 1
    out = np.full((n_events, 2), -1, dtype=np.int64)
    for ev in range(n_events):
        first, second = -1, -1
        for k in range(jet_offsets[ev], jet_offsets[ev + 1]):
            if first < 0 or pt[k] > pt[first]:
                second = first
                first = k
            elif second < 0 or pt[k] > pt[second]:
                second = k
        out[ev, 0] = first
        out[ev, 1] = second
    return out
