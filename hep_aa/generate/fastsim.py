"""Fast detector simulation in the style of Delphes' CMS card, vectorised over whole batches.

The chain reproduces the Delphes modules of ``cards/delphes_card_CMS.tcl`` (the parameters
live in ``hep_aa/generate/data/delphes_cms.yaml``, each under the name of its module):

1. **ParticlePropagator** — charged particles follow a helix in the 3.8 T solenoid to the
   calorimeter surface (cylinder R = 1.29 m, half-length 3 m); the hit position (η, φ) is where
   the helix leaves the cylinder, neutral particles fly straight.
2. **Tracking efficiency and momentum smearing** for charged hadrons, electrons and muons
   (|η| < 2.5, pT > 0.1 GeV), pT smeared log-normally with σ/pT = √(a² + b² pT²). As in
   Delphes, both are evaluated at the η of the particle's position on the calorimeter surface:
   a low-pT looper (pT < 0.3·B·R/2 = 0.74 GeV) that spirals out through the endcap beyond
   |η| = 2.5 is not a track (the real R&D file shows this deficit of soft central tracks;
   below 0.3 GeV it keeps a few more than this model).
3. **ECal then HCal** (``SimpleCalorimeter``): each visible particle deposits its energy
   fraction (by |PDG id|) in the tower of its hit position on the card's η–φ grid; the tower
   energy is smeared log-normally with σ(E) = shape(η)·√((cE)² + s²E + n²) and dropped below
   ``energy_min`` or ``energy_significance_min``·σ. Energy flow the Delphes way: in each tower,
   the track energy (tracks whose particle deposits there) is subtracted; a significant neutral
   excess becomes an **EFlowPhoton** (ECal) or **EFlowNeutralHadron** (HCal) at a uniformly
   smeared point of the tower, otherwise the tower's tracks are rescaled to the
   resolution-weighted mean of track and calorimeter energy. Tracks become **EFlowTrack**.
4. **Leptons**: electron EFlow tracks and muon tracks pass the card's efficiency and isolation;
   **MET** is minus the vector sum of the EFlow objects; **b-tagging** efficiency and mistag
   rates act on jets matched to partons (:func:`btag`).

Everything runs on flat NumPy arrays of all particles of a batch (``np.unique`` / ``bincount``
over (event, tower) keys): there is no Python loop over particles or events.
Not simulated (as in the R&D sample): pile-up. Simplified: tracks keep the true direction of
the particle (Delphes too), the looper fraction at very low pT only through the helix geometry.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

import awkward as ak
import numpy as np

from hep_aa.exceptions import ConfigError

__all__ = [
    "DetectorCard",
    "DetectorOutput",
    "btag",
    "load_card",
    "simulate",
]

C_LIGHT = 0.299792458  # GeV / (T m)
KIND_TRACK, KIND_PHOTON, KIND_NEUTRAL_HADRON = 0, 1, 2


@dataclass(frozen=True)
class Calorimeter:
    """One ``SimpleCalorimeter`` (ECal or HCal) of the card."""

    name: str
    energy_min: float
    significance_min: float
    smear_center: bool
    eta_edges: np.ndarray  # sorted tower edges in η
    n_phi: np.ndarray  # phi bins of the tower below each edge (index = upper edge)
    fractions: dict[int, float]
    default_fraction: float
    resolution: list[dict[str, Any]]

    def fraction(self, abs_pid: np.ndarray) -> np.ndarray:
        """Energy fraction deposited here, per particle."""
        out = np.full(abs_pid.shape, self.default_fraction)
        for pid, frac in self.fractions.items():
            out[abs_pid == pid] = frac
        return out

    def sigma(self, eta: np.ndarray, energy: np.ndarray) -> np.ndarray:
        """σ(E) of the card's resolution formula at tower-centre η."""
        a = np.abs(eta)
        out = np.zeros_like(energy, dtype=np.float64)
        lo = 0.0
        for region in self.resolution:
            hi = region["abs_eta_max"]
            sel = (a > lo) & (a <= hi) if lo > 0 else a <= hi
            p0, p1, p2 = region["shape"]
            shape = p0 + p1 * (a[sel] - p2) ** 2
            e = energy[sel]
            out[sel] = shape * np.sqrt((region["c"] * e) ** 2 + region["s"] ** 2 * e + region["n"] ** 2)
            lo = hi
        return out

    def towers(self, eta: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tower index (η bin · 1024 + φ bin) of each hit and whether it lies on the grid
        (Delphes: ``lower_bound`` on the edges, bins [1, size − 1])."""
        k = np.searchsorted(self.eta_edges, eta, side="left")
        valid = (k >= 1) & (k <= len(self.eta_edges) - 1)
        k = np.clip(k, 1, len(self.eta_edges) - 1)
        n = self.n_phi[k]
        j = np.ceil((phi + np.pi) / (2 * np.pi / n)).astype(np.int64)
        valid &= (j >= 1) & (j <= n)
        return k.astype(np.int64) * 1024 + np.clip(j, 1, None), valid

    def tower_edges(self, tower: np.ndarray) -> tuple[np.ndarray, ...]:
        """η low/high and φ low/high edges of towers."""
        k, j = tower // 1024, tower % 1024
        width = 2 * np.pi / self.n_phi[k]
        return self.eta_edges[k - 1], self.eta_edges[k], -np.pi + (j - 1) * width, -np.pi + j * width


@dataclass(frozen=True)
class DetectorCard:
    """The parsed parameter file (see ``data/delphes_cms.yaml`` for meaning and units)."""

    name: str
    source: str
    raw: dict[str, Any]
    ecal: Calorimeter
    hcal: Calorimeter


def _grid(entries: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    n_of: dict[float, int] = {}
    for entry in entries:
        if "eta_range" in entry:
            r = entry["eta_range"]
            etas = [r["offset"] + i * r["step"] for i in range(r["first"], r["last"] + 1)]
        else:
            etas = entry["eta"]
        for eta in etas:
            key = round(float(eta), 6)
            # Delphes merges the phi edges of repeated eta values; the card's divisions nest
            n_of[key] = max(n_of.get(key, 0), int(entry["n_phi"]))
    edges = np.array(sorted(n_of))
    return edges, np.array([n_of[e] for e in edges], dtype=np.int64)


def _calorimeter(name: str, spec: dict[str, Any]) -> Calorimeter:
    edges, n_phi = _grid(spec["eta_phi_bins"])
    fractions = {int(k): float(v) for k, v in spec["energy_fractions"].items() if k != "default"}
    return Calorimeter(
        name=name,
        energy_min=float(spec["energy_min"]),
        significance_min=float(spec["energy_significance_min"]),
        smear_center=bool(spec["smear_tower_center"]),
        eta_edges=edges,
        n_phi=n_phi,
        fractions=fractions,
        default_fraction=float(spec["energy_fractions"]["default"]),
        resolution=list(spec["resolution"]),
    )


@functools.cache
def load_card(name: str = "cms") -> DetectorCard:
    """The packaged detector card ``name`` (only ``"cms"``: Delphes' CMS card)."""
    import yaml

    if name != "cms":
        raise ConfigError(f"unknown detector card {name!r}; use 'cms' (or no detector: 'none')")
    text = resources.files("hep_aa.generate").joinpath("data", "delphes_cms.yaml").read_text()
    raw = yaml.safe_load(text)
    return DetectorCard(
        name=raw["name"],
        source=raw["source"],
        raw=raw,
        ecal=_calorimeter("ecal", raw["ecal"]),
        hcal=_calorimeter("hcal", raw["hcal"]),
    )


# --------------------------------------------------------------------------------------------
# flat-array helpers


def _binned(table: dict[str, Any], abs_eta: np.ndarray, pt: np.ndarray) -> np.ndarray:
    """Efficiency from an |η| × pT table (0 outside)."""
    eta_edges = np.asarray(table["abs_eta_edges"], dtype=float)
    pt_edges = np.asarray(table["pt_edges"], dtype=float)
    values = np.asarray(table["values"], dtype=float)
    # the card's intervals are (lo, hi]: right-closed
    i = np.searchsorted(eta_edges, abs_eta, side="left") - 1
    j = np.searchsorted(pt_edges, pt, side="left") - 1
    ok = (i >= 0) & (i < values.shape[0]) & (j >= 0) & (j < values.shape[1])
    i = np.where(abs_eta == 0.0, 0, i)
    ok |= (abs_eta == 0.0) & (j >= 0) & (j < values.shape[1])
    out = np.zeros(abs_eta.shape)
    out[ok] = values[np.clip(i[ok], 0, values.shape[0] - 1), j[ok]]
    return out


def _relative_resolution(spec: dict[str, Any], abs_eta: np.ndarray, pt: np.ndarray) -> np.ndarray:
    edges = np.asarray(spec["abs_eta_edges"], dtype=float)
    a, b = np.asarray(spec["a"], dtype=float), np.asarray(spec["b"], dtype=float)
    i = np.clip(np.searchsorted(edges, abs_eta, side="left") - 1, 0, len(a) - 1)
    return np.sqrt(a[i] ** 2 + (pt * b[i]) ** 2)


def _log_normal(mean: np.ndarray, sigma: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Delphes' ``LogNormal(mean, sigma)``: mean and σ of the smeared value as given."""
    out = np.zeros_like(mean, dtype=np.float64)
    pos = mean > 0
    m, s = mean[pos], sigma[pos]
    b = np.sqrt(np.log1p((s / m) ** 2))
    out[pos] = np.exp(np.log(m) - 0.5 * b * b + b * rng.standard_normal(m.shape))
    return out


def _propagate(
    pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, pz: np.ndarray, charge: np.ndarray, spec: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """(η, φ) of the point where each particle leaves the field cylinder."""
    radius, half = float(spec["radius"]), float(spec["half_length"])
    eta_pos, phi_pos = eta.copy(), phi.copy()
    q = charge != 0
    if not np.any(q):
        return eta_pos, phi_pos
    pt_q, pz_q, qv = pt[q], pz[q], charge[q]
    r_helix = pt_q / (C_LIGHT * np.abs(qv) * float(spec["bz"]))  # m
    ratio = radius / (2.0 * r_helix)
    with np.errstate(divide="ignore", invalid="ignore"):
        s_barrel = np.where(ratio <= 1.0, 2.0 * r_helix * np.arcsin(np.minimum(ratio, 1.0)), np.inf)
        s_endcap = np.where(np.abs(pz_q) > 0, half * pt_q / np.abs(pz_q), np.inf)
    s = np.minimum(s_barrel, s_endcap)  # transverse arc length to the exit point
    s = np.where(np.isfinite(s), s, np.pi * r_helix)  # pz = 0 loopers: half a turn
    chord = 2.0 * r_helix * np.abs(np.sin(s / (2.0 * r_helix)))
    z = np.sign(pz_q) * s * np.abs(pz_q) / pt_q
    with np.errstate(divide="ignore"):
        eta_pos[q] = np.arcsinh(z / np.maximum(chord, 1e-9))
    phi_pos[q] = (phi[q] - np.sign(qv) * s / (2.0 * r_helix) + np.pi) % (2 * np.pi) - np.pi
    return eta_pos, phi_pos


@dataclass
class _Tracks:
    idx: np.ndarray  # index into the flat particle arrays
    pt: np.ndarray  # smeared pT
    res: np.ndarray  # relative pT resolution


def _calorimeter_stage(
    cal: Calorimeter,
    ev: np.ndarray,
    energy: np.ndarray,
    abs_pid: np.ndarray,
    eta_pos: np.ndarray,
    phi_pos: np.ndarray,
    track_scale: np.ndarray,
    tracks: _Tracks,
    track_energy: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One SimpleCalorimeter: returns the new per-track scale factors (tracks whose particle
    deposits here may be rescaled) and the neutral EFlow towers (ev, energy, eta, phi).

    Tracks without a tower on the grid are dropped (scale set to 0), as in Delphes.
    """
    frac_p = cal.fraction(abs_pid)
    tower_p, ok_p = cal.towers(eta_pos, phi_pos)
    n_towers = int(cal.eta_edges.size) * 1024
    key_p = ev.astype(np.int64) * n_towers + tower_p
    dep = ok_p & (frac_p > 0)

    t = tracks.idx
    ok_t = ok_p[t]
    key_t = key_p[t]
    frac_t = frac_p[t]
    e_t = track_energy * track_scale  # current (possibly already rescaled) track energy
    scale = np.where(ok_t, track_scale, 0.0)

    keys = np.concatenate([key_p[dep], key_t[ok_t]])
    uniq, inverse = np.unique(keys, return_inverse=True)
    inv_p, inv_t = inverse[: dep.sum()], inverse[dep.sum() :]
    n = len(uniq)
    tower_e = np.bincount(inv_p, weights=energy[dep] * frac_p[dep], minlength=n)
    in_cal = frac_t[ok_t] > 1e-9
    e_t_ok, res_t_ok = e_t[ok_t], tracks.res[ok_t]
    track_e = np.bincount(inv_t[in_cal], weights=e_t_ok[in_cal] * frac_t[ok_t][in_cal], minlength=n)
    track_s2 = np.bincount(inv_t[in_cal], weights=(res_t_ok[in_cal] * e_t_ok[in_cal]) ** 2, minlength=n)

    tower = uniq % n_towers
    eta_lo, eta_hi, phi_lo, phi_hi = cal.tower_edges(tower)
    eta_c = 0.5 * (eta_lo + eta_hi)
    sigma0 = cal.sigma(eta_c, tower_e)
    e_smear = _log_normal(tower_e, sigma0, rng)
    sigma = cal.sigma(eta_c, e_smear)
    e_smear = np.where((e_smear < cal.energy_min) | (e_smear < cal.significance_min * sigma), 0.0, e_smear)

    neutral = np.maximum(e_smear - track_e, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        neutral_sig = neutral / np.sqrt(track_s2 + sigma**2)
    significant = (neutral > cal.energy_min) & (neutral_sig > cal.significance_min)

    # rescale tracks of towers without a significant neutral excess
    rescale = ~significant & (track_e > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        w_trk = np.where(track_s2 > 0, 1.0 / track_s2, 0.0)
        w_cal = np.where(sigma > 0, 1.0 / sigma**2, 0.0)
        best = (w_trk * track_e + w_cal * e_smear) / (w_trk + w_cal)
        factor = np.where(rescale & ((w_trk + w_cal) > 0), best / track_e, 1.0)
    ok_idx = np.flatnonzero(ok_t)
    sub = ok_idx[in_cal]
    scale[sub] = scale[sub] * factor[inv_t[in_cal]]

    sel = np.flatnonzero(significant)
    if cal.smear_center:
        eta = rng.uniform(eta_lo[sel], eta_hi[sel])
        phi = rng.uniform(phi_lo[sel], phi_hi[sel])
    else:
        eta, phi = eta_c[sel], 0.5 * (phi_lo[sel] + phi_hi[sel])
    towers = {"ev": uniq[sel] // n_towers, "energy": neutral[sel], "eta": eta, "phi": phi}
    return scale, towers


@dataclass(frozen=True)
class DetectorOutput:
    """Reconstructed objects of a batch.

    Attributes
    ----------
    eflow : ak.Array of shape (n_events, var)
        EFlow objects (Delphes' ``EFlowMerger``), massless Momentum4D records ``pt, eta, phi,
        mass`` plus ``kind`` (0 EFlowTrack, 1 EFlowPhoton, 2 EFlowNeutralHadron), ``charge``
        and ``pid`` (tracks: the particle's PDG id; towers: 22 or 0, as in Delphes), sorted by
        decreasing pT.
    electrons, muons : ak.Array of shape (n_events, var)
        Isolated, efficiency-selected leptons (``pt, eta, phi, mass, charge``, ``iso`` = the
        card's relative isolation, ``iso03`` = the same in a ΔR < 0.3 cone), by pT.
    met_pt, met_phi : ndarray of shape (n_events,)
        Missing transverse momentum of the EFlow objects.
    """

    eflow: ak.Array
    electrons: ak.Array
    muons: ak.Array
    met_pt: np.ndarray
    met_phi: np.ndarray


def _sorted_records(fields: dict[str, np.ndarray], ev: np.ndarray, n_events: int) -> ak.Array:
    order = np.lexsort((-fields["pt"], ev))
    counts = np.bincount(ev, minlength=n_events)
    return ak.unflatten(ak.zip({k: v[order] for k, v in fields.items()}, with_name="Momentum4D"), counts)


def _lepton_efficiency(spec: dict[str, Any], abs_eta: np.ndarray, pt: np.ndarray) -> np.ndarray:
    edges = np.asarray(spec["abs_eta_edges"], dtype=float)
    values = np.asarray(spec["values"], dtype=float)
    i = np.searchsorted(edges, abs_eta, side="left") - 1
    i = np.where(abs_eta == 0.0, 0, i)
    ok = (i >= 0) & (i < len(values)) & (pt > spec["pt_min"])
    eff = np.where(ok, values[np.clip(i, 0, len(values) - 1)], 0.0)
    if "high_pt_start" in spec:
        high = pt > spec["high_pt_start"]
        eff = np.where(high, eff * np.exp(0.5 - pt * spec["high_pt_slope"]), eff)
    return eff


def _isolation(
    cand: dict[str, np.ndarray],
    cand_index: np.ndarray,
    eflow: dict[str, np.ndarray],
    delta_r: float,
    pt_min: float,
) -> np.ndarray:
    """Delphes ``Isolation``: Σ pT of the other EFlow objects (pT > pt_min, ΔR < delta_r) / pT."""
    if len(cand["pt"]) == 0:
        return np.zeros(0)
    # candidates are few: pair each with the EFlow objects of its event (sorted by event)
    starts = np.searchsorted(eflow["ev"], cand["ev"], side="left")
    stops = np.searchsorted(eflow["ev"], cand["ev"], side="right")
    lengths = stops - starts
    rep = np.repeat(np.arange(len(starts)), lengths)
    offs = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    other = np.repeat(starts, lengths) + offs
    dphi = (eflow["phi"][other] - cand["phi"][rep] + np.pi) % (2 * np.pi) - np.pi
    dr2 = (eflow["eta"][other] - cand["eta"][rep]) ** 2 + dphi**2
    use = (dr2 < delta_r**2) & (eflow["pt"][other] > pt_min) & (other != cand_index[rep])
    sums = np.bincount(rep[use], weights=eflow["pt"][other][use], minlength=len(starts))
    return sums / cand["pt"]


def simulate(
    particles: ak.Array, rng: np.random.Generator, card: DetectorCard | None = None
) -> DetectorOutput:
    """Run the detector on generator-level final-state particles.

    Parameters
    ----------
    particles : ak.Array of shape (n_events, var)
        Records with ``px, py, pz, E`` (GeV), ``pid`` (PDG id) and ``charge`` (units of e) of
        the stable final-state particles (neutrinos may be included: they deposit nothing).
    rng : numpy.random.Generator
    card : DetectorCard, optional
        Default: :func:`load_card` ``("cms")``.
    """
    card = card or load_card()
    raw = card.raw
    n_events = len(particles)
    counts = ak.to_numpy(ak.num(particles, axis=1))
    ev = np.repeat(np.arange(n_events), counts)
    flat = ak.flatten(particles, axis=1)
    px, py, pz, energy = (ak.to_numpy(flat[k]).astype(np.float64) for k in ("px", "py", "pz", "E"))
    pid = ak.to_numpy(flat["pid"]).astype(np.int64)
    charge = ak.to_numpy(flat["charge"]).astype(np.float64)
    abs_pid = np.abs(pid)
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.sqrt(pt**2 + pz**2)
        eta = np.arctanh(np.where(p > 0, pz / np.where(p > 0, p, 1.0), 0.0))
    eta = np.nan_to_num(eta, posinf=1e3, neginf=-1e3)
    phi = np.arctan2(py, px)
    eta_pos, phi_pos = _propagate(pt, eta, phi, pz, charge, raw["propagator"])

    # tracking: efficiency, then log-normal pT smearing
    charged = charge != 0
    kinds = {"electron": charged & (abs_pid == 11), "muon": charged & (abs_pid == 13)}
    kinds["charged_hadron"] = charged & ~kinds["electron"] & ~kinds["muon"]
    eff = np.zeros(len(pt))
    res = np.zeros(len(pt))
    # Delphes' Efficiency and MomentumSmearing modules evaluate their formulas at the
    # particle's position on the calorimeter surface: loopers leaving through the endcap at
    # |eta| > 2.5 are never tracks
    abs_eta_pos = np.abs(eta_pos)
    for kind, sel in kinds.items():
        eff[sel] = _binned(raw["tracking_efficiency"][kind], abs_eta_pos[sel], pt[sel])
        res[sel] = _relative_resolution(raw["momentum_resolution"][kind], abs_eta_pos[sel], pt[sel])
    reco = charged & (rng.random(len(pt)) < eff)
    t_idx = np.flatnonzero(reco)
    t_pt = _log_normal(pt[t_idx], res[t_idx] * pt[t_idx], rng)
    tracks = _Tracks(idx=t_idx, pt=t_pt, res=res[t_idx])
    # track energy as used by the calorimeters: the smeared momentum, particle mass kept
    mass2 = np.clip(energy**2 - p**2, 0.0, None)
    t_p = t_pt * np.cosh(eta[t_idx])
    t_energy = np.sqrt(t_p**2 + mass2[t_idx])

    scale = np.ones(len(t_idx))
    scale, photons = _calorimeter_stage(
        card.ecal, ev, energy, abs_pid, eta_pos, phi_pos, scale, tracks, t_energy, rng
    )
    scale, hadrons = _calorimeter_stage(
        card.hcal, ev, energy, abs_pid, eta_pos, phi_pos, scale, tracks, t_energy, rng
    )
    keep = scale > 0
    tr_ev = ev[t_idx][keep]
    tr_pt = (t_pt * scale)[keep]
    fields = {
        "ev": np.concatenate([tr_ev, photons["ev"], hadrons["ev"]]),
        "pt": np.concatenate(
            [tr_pt, photons["energy"] / np.cosh(photons["eta"]), hadrons["energy"] / np.cosh(hadrons["eta"])]
        ),
        "eta": np.concatenate([eta[t_idx][keep], photons["eta"], hadrons["eta"]]),
        "phi": np.concatenate([phi[t_idx][keep], photons["phi"], hadrons["phi"]]),
        "kind": np.concatenate(
            [
                np.full(keep.sum(), KIND_TRACK),
                np.full(len(photons["ev"]), KIND_PHOTON),
                np.full(len(hadrons["ev"]), KIND_NEUTRAL_HADRON),
            ]
        ).astype(np.int8),
        "charge": np.concatenate(
            [charge[t_idx][keep], np.zeros(len(photons["ev"])), np.zeros(len(hadrons["ev"]))]
        ).astype(np.int8),
        "pid": np.concatenate(
            [pid[t_idx][keep], np.full(len(photons["ev"]), 22), np.zeros(len(hadrons["ev"]), dtype=np.int64)]
        ),
    }
    fields["mass"] = np.zeros(len(fields["pt"]))
    order = np.lexsort((-fields["pt"], fields["ev"]))
    fields = {k: v[order] for k, v in fields.items()}
    track_pos = np.flatnonzero(fields["kind"] == KIND_TRACK)  # positions of tracks after sorting

    met_x = -np.bincount(fields["ev"], weights=fields["pt"] * np.cos(fields["phi"]), minlength=n_events)
    met_y = -np.bincount(fields["ev"], weights=fields["pt"] * np.sin(fields["phi"]), minlength=n_events)

    leptons = {}
    for name, pdg in (("electrons", 11), ("muons", 13)):
        spec = raw["electron" if pdg == 11 else "muon"]
        sel = track_pos[np.abs(fields["pid"][track_pos]) == pdg]
        cand = {k: fields[k][sel] for k in ("ev", "pt", "eta", "phi", "charge")}
        passed = rng.random(len(sel)) < _lepton_efficiency(
            spec["efficiency"], np.abs(cand["eta"]), cand["pt"]
        )
        iso_spec = spec["isolation"]
        cand["iso"] = _isolation(cand, sel, fields, iso_spec["delta_r_max"], iso_spec["pt_min"])
        cand["iso03"] = _isolation(cand, sel, fields, 0.3, iso_spec["pt_min"])
        good = passed & (cand["iso"] < iso_spec["pt_ratio_max"])
        lep = {k: v[good] for k, v in cand.items() if k != "ev"}
        lep["mass"] = np.full(good.sum(), 0.000511 if pdg == 11 else 0.10566)
        leptons[name] = _sorted_records(lep, cand["ev"][good], n_events)

    ev_sorted = fields.pop("ev")
    eflow = ak.unflatten(ak.zip(fields, with_name="Momentum4D"), np.bincount(ev_sorted, minlength=n_events))
    return DetectorOutput(
        eflow=eflow,
        electrons=leptons["electrons"],
        muons=leptons["muons"],
        met_pt=np.hypot(met_x, met_y),
        met_phi=np.arctan2(met_y, met_x),
    )


def btag(
    jets: ak.Array, partons: ak.Array, rng: np.random.Generator, card: DetectorCard | None = None
) -> tuple[ak.Array, ak.Array]:
    """Delphes ``JetFlavorAssociation`` + ``BTagging``: flavour of each jet = the highest
    |PDG id| among b (5) and c (4) partons (pT > 1 GeV, |η| < 2.5) within ΔR < 0.5, else light;
    tagged with the card's pT-dependent b efficiency, c and light mistag rates. Jets with
    |η| ≥ 2.5 are never tagged.

    Parameters
    ----------
    jets : ak.Array of shape (n_events, var)
        Momentum4D jets.
    partons : ak.Array of shape (n_events, var)
        Momentum4D records with ``pid`` (quarks and gluons of the event record).

    Returns
    -------
    flavour, tagged : ak.Array of shape (n_events, var)
        Hadron-level flavour (5, 4 or 0) and the b-tag bit of each jet.
    """
    card = card or load_card()
    spec = card.raw["btagging"]
    # var-length lists: a regular boolean mask would select along the first axis
    jets, partons = ak.from_regular(jets, axis=1), ak.from_regular(partons, axis=1)
    counts = ak.to_numpy(ak.num(jets, axis=1))
    good_p = (partons.pt > spec["parton_pt_min"]) & (np.abs(partons.eta) < spec["parton_abs_eta_max"])
    heavy = partons[good_p & ((np.abs(partons.pid) == 5) | (np.abs(partons.pid) == 4))]
    pairs = ak.cartesian({"j": jets, "p": heavy}, axis=1, nested=True)
    dr = pairs.j.deltaR(pairs.p)
    code = ak.where(dr < spec["delta_r"], np.abs(pairs.p.pid), 0)
    flavour = ak.fill_none(ak.max(code, axis=2), 0)
    flat_f = ak.to_numpy(ak.flatten(flavour)).astype(np.int64)
    flat_pt = ak.to_numpy(ak.flatten(jets.pt)).astype(np.float64)
    flat_eta = ak.to_numpy(ak.flatten(jets.eta)).astype(np.float64)
    b, c, light = spec["b"], spec["c"], spec["light"]
    eff = np.where(
        flat_f == 5,
        b["norm"] * np.tanh(b["k"] * flat_pt) * b["num"] / (1 + b["d"] * flat_pt),
        np.where(
            flat_f == 4,
            c["norm"] * np.tanh(c["k"] * flat_pt) * c["num"] / (1 + c["d"] * flat_pt),
            light["a"] + light["b"] * flat_pt,
        ),
    )
    eff = np.where(np.abs(flat_eta) < spec["parton_abs_eta_max"], np.clip(eff, 0.0, 1.0), 0.0)
    tagged = rng.random(len(eff)) < eff
    return ak.unflatten(flat_f, counts), ak.unflatten(tagged, counts)
