"""Z h events with Pythia 8 and SMEFT matrix-element reweighting, written as NanoAOD-like ROOT.

Process: ``HiggsSM:ffbar2HZ`` at √s = 13 TeV, Z → e⁺e⁻ / μ⁺μ⁻, h → b b̄ (m_h = 125 GeV), with
shower, MPI and hadronisation. For every event the hard-process momenta (incoming q q̄, the
h, and the Z-decay leptons boosted back to the hard-process Z frame, so that momentum is
conserved exactly) feed :func:`hep_aa.generate.smeft.me_components`; the per-event SMEFT
weight components normalised to the SM (``SMEFT_lin_<p>``, ``SMEFT_quad_<p>_<q>``, SM = 1)
are stored, so any parameter point is an exact reweighting:
``w(c) = 1 + Σ c_p lin_p + Σ c_p c_q quad_pq``; named points are stored as
``SMEFTweight_<NAME>``.

Reconstruction, ``detector="cms"`` (default): the Delphes-CMS-card fast simulation of
:mod:`hep_aa.generate.fastsim` — electrons and muons after tracking, identification efficiency
and the card's isolation (``pfRelIso03_all`` holds the same ratio in a ΔR < 0.3 cone); jets =
anti-kT R = 0.5 of the EFlow objects without the selected leptons, pT > 20 GeV, the card's jet
energy scale; ``Jet_hadronFlavour`` = the Delphes flavour association (5, 4, 0) and
``Jet_btagDeepFlavB`` = the b-tag bit drawn with the card's b efficiency / c and light mistag
rates (|η| < 2.5 only); MET from the EFlow objects.
``detector="none"`` (truth): leptons are final-state e/μ with pT > 10 GeV, |η| < 2.5 and
relative isolation (ΣpT of other visible particles within ΔR < 0.3) / pT < 0.15; jets are
anti-kT R = 0.4 of the other visible final-state particles (|η| < 4.7), pT > 20 GeV; a jet is
b-tagged (``Jet_btagDeepFlavB`` = 1, ``Jet_hadronFlavour`` = 5) when a b hadron is ghost-
associated to it; MET is minus the vector sum of visible particles with |η| < 4.9.

The output is a TTree ``Events`` (written with uproot ``mktree``, atomically) with ``run``,
``luminosityBlock``, ``event``, ``genWeight``, ``Electron_*``, ``Muon_*``, ``Jet_*``, ``MET_*``,
``GenZ_*``, ``GenH_*`` and the weights, readable with coffea's ``NanoAODSchema``.

An "anomaly" sample at a parameter point is made unweighted by accept–reject on w(c)/w_max
(w_max from a pilot batch × 1.5; events above it are counted and logged).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from hep_aa.exceptions import ConfigError
from hep_aa.features.higgs import boost
from hep_aa.generate.lhco import ProgressLog, make_pythia
from hep_aa.generate.smeft import PARAMETERS, me_components, morph
from hep_aa.io.artifacts import atomic_path

__all__ = ["VHGenerationResult", "generate_vh", "parse_point", "vh_settings"]

log = logging.getLogger(__name__)


def vh_settings(sqrt_s: float = 13000.0) -> list[str]:
    """Pythia settings of q q̄ → Z h, Z → ee/μμ, h → b b̄."""
    return [
        f"Beams:eCM = {sqrt_s}",
        "HiggsSM:ffbar2HZ = on",
        "25:m0 = 125.0",
        "23:onMode = off",
        "23:onIfAny = 11 13",
        "25:onMode = off",
        "25:onIfMatch = 5 -5",
    ]


def parse_point(text: str) -> tuple[str, dict[str, float]]:
    """Parse ``NAME=c1,c2,...`` (values in the order of PARAMETERS) or ``NAME=p:c,q:c``."""
    if "=" not in text:
        raise ConfigError(f"--point {text!r}: expected NAME=c1,c2,... or NAME=param:value,...")
    name, values = text.split("=", 1)
    if not name.isidentifier():
        raise ConfigError(f"--point {text!r}: the name {name!r} must be a simple identifier")
    items = [v.strip() for v in values.split(",") if v.strip()]
    point: dict[str, float] = {}
    try:
        if all(":" in i for i in items):
            for item in items:
                key, val = item.split(":", 1)
                if key not in PARAMETERS:
                    raise ConfigError(
                        f"--point {text!r}: unknown parameter {key!r}; use {', '.join(PARAMETERS)}"
                    )
                point[key] = float(val)
        else:
            if len(items) > len(PARAMETERS):
                raise ConfigError(
                    f"--point {text!r}: at most {len(PARAMETERS)} values ({', '.join(PARAMETERS)})"
                )
            point = {p: float(v) for p, v in zip(PARAMETERS, items, strict=False)}
    except ValueError:
        raise ConfigError(f"--point {text!r}: values must be numbers") from None
    return name, point


@dataclass
class VHGenerationResult:
    path: Path
    n_written: int
    n_generated: int
    acceptance: float
    sigma_pb: float
    w_max: float | None = None
    n_above_w_max: int = 0


def _four(prt: ak.Array, idx: np.ndarray) -> np.ndarray:
    """(E, px, py, pz) of particle ``idx[i]`` in event ``i``."""
    sel = prt[ak.local_index(prt.id) == idx[:, None]]
    p = ak.firsts(sel.p)
    return np.column_stack([ak.to_numpy(p.e), ak.to_numpy(p.px), ak.to_numpy(p.py), ak.to_numpy(p.pz)])


def hard_process(events: ak.Array) -> dict[str, np.ndarray]:
    """Consistent hard-process kinematics of ffbar2HZ events from the event record.

    Lines 3 and 4 are the incoming partons, 5 the h and 6 the Z (Pythia's fixed layout for
    this process). The Z decays late, after the ISR recoil: its leptons
    (status ±23) are boosted to the rest frame of their mother Z and then with the line-6 Z, which restores
    exact momentum conservation with lines 3–6.
    """
    prt = events.prt
    n = len(prt)
    ids = prt.id
    p3, p4 = _four(prt, np.full(n, 3)), _four(prt, np.full(n, 4))
    id3, id4 = ak.to_numpy(ids[:, 3]), ak.to_numpy(ids[:, 4])
    quark_first = id3 > 0
    p_q = np.where(quark_first[:, None], p3, p4)
    p_qbar = np.where(quark_first[:, None], p4, p3)
    quark = np.where(quark_first, id3, id4)
    p_h, p_z = _four(prt, np.full(n, 5)), _four(prt, np.full(n, 6))
    local = ak.local_index(ids)
    is_lep = ((abs(ids) == 11) | (abs(ids) == 13)) & (abs(prt.status) == 23)  # 23 when no FSR followed
    lm_idx = ak.to_numpy(ak.firsts(local[is_lep & (ids > 0)]))
    lp_idx = ak.to_numpy(ak.firsts(local[is_lep & (ids < 0)]))
    mother = ak.to_numpy(ak.firsts(prt.mother1[local == lm_idx[:, None]]))
    z_final = _four(prt, mother)
    lepton_id = ak.to_numpy(ak.firsts(ids[local == lm_idx[:, None]]))
    to_rest = -z_final[:, 1:] / z_final[:, :1]
    to_hard = p_z[:, 1:] / p_z[:, :1]
    p_lm = boost(boost(_four(prt, lm_idx), to_rest), to_hard)
    p_lp = boost(boost(_four(prt, lp_idx), to_rest), to_hard)
    return {
        "p_q": p_q,
        "p_qbar": p_qbar,
        "quark": quark,
        "p_h": p_h,
        "p_z": p_z,
        "p_lm": p_lm,
        "p_lp": p_lp,
        "lepton": lepton_id,
    }


def _ptetaphim(p: np.ndarray) -> dict[str, np.ndarray]:
    pt = np.hypot(p[:, 1], p[:, 2])
    eta = np.arcsinh(np.divide(p[:, 3], pt, out=np.zeros_like(pt), where=pt > 0))
    mass = np.sqrt(np.clip(p[:, 0] ** 2 - (p[:, 1:] ** 2).sum(axis=1), 0.0, None))
    return {"pt": pt, "eta": eta, "phi": np.arctan2(p[:, 2], p[:, 1]), "mass": mass}


def reconstruct(
    events: ak.Array,
    detector: str = "cms",
    rng: np.random.Generator | None = None,
    particle_data: Any = None,
) -> dict[str, Any]:
    """NanoAOD-like reconstructed objects (see module docstring) of a batch of Pythia events.

    ``detector="cms"`` needs ``rng`` and ``particle_data`` (``pythia.particleData``).
    """
    if detector == "cms":
        if rng is None or particle_data is None:
            raise ConfigError("the cms detector needs an rng and Pythia's particle data")
        return _reconstruct_cms(events, rng, particle_data)
    if detector != "none":
        raise ConfigError(f"unknown detector {detector!r}; use 'cms' or 'none'")
    return _reconstruct_truth(events)


def _nano_leptons(leps: ak.Array, pdg: int, mass: float) -> ak.Array:
    return ak.zip(
        {
            "pt": ak.values_astype(leps.pt, np.float32),
            "eta": ak.values_astype(leps.eta, np.float32),
            "phi": ak.values_astype(leps.phi, np.float32),
            "mass": ak.values_astype(ak.zeros_like(leps.pt) + mass, np.float32),
            "charge": ak.values_astype(leps.charge, np.int32),
            "pdgId": ak.values_astype(-pdg * leps.charge, np.int32),
            "pfRelIso03_all": ak.values_astype(leps.iso03, np.float32),
        }
    )


def _reconstruct_cms(events: ak.Array, rng: np.random.Generator, particle_data: Any) -> dict[str, Any]:
    import vector

    from hep_aa.features.jets import cluster_leading_jets
    from hep_aa.generate.fastsim import btag, load_card, simulate
    from hep_aa.generate.lhco import final_state

    vector.register_awkward()
    card = load_card()
    out = simulate(final_state(events, particle_data), rng, card)
    eflow = out.eflow
    # Delphes' UniqueObjectFinder: isolated leptons take precedence over jets
    leps = ak.concatenate([out.electrons, out.muons], axis=1)
    is_lep = ak.any(
        (eflow.pt[:, :, None] == leps.pt[:, None, :]) & (eflow.eta[:, :, None] == leps.eta[:, None, :]),
        axis=2,
    )
    spec = card.raw["jets"]
    jets, _ = cluster_leading_jets(eflow[~is_lep], radius=spec["radius"], n_jets=1_000_000)
    jets = jets[jets.pt > spec["pt_min"]]
    jes = spec["energy_scale"]
    scale = np.sqrt((jes["a"] - jes["b"] * abs(jets.eta)) ** 2 / jets.pt + 1.0)
    jets = ak.zip(
        {"pt": jets.pt * scale, "eta": jets.eta, "phi": jets.phi, "mass": jets.mass * scale},
        with_name="Momentum4D",
    )
    prt = events.prt
    heavy = (abs(prt.id) == 4) | (abs(prt.id) == 5)
    hp = ak.with_name(prt.p[heavy], "Momentum4D")
    partons = ak.zip(
        {"pt": hp.pt, "eta": hp.eta, "phi": hp.phi, "mass": hp.mass, "pid": prt.id[heavy]},
        with_name="Momentum4D",
    )
    flavour, tagged = btag(jets, partons, rng, card)
    return {
        "Electron": _nano_leptons(out.electrons, 11, 0.000511),
        "Muon": _nano_leptons(out.muons, 13, 0.10566),
        "Jet": ak.zip(
            {
                "pt": ak.values_astype(jets.pt, np.float32),
                "eta": ak.values_astype(jets.eta, np.float32),
                "phi": ak.values_astype(jets.phi, np.float32),
                "mass": ak.values_astype(jets.mass, np.float32),
                "btagDeepFlavB": ak.values_astype(tagged, np.float32),
                "hadronFlavour": ak.values_astype(flavour, np.int32),
            }
        ),
        "MET_pt": out.met_pt.astype(np.float32),
        "MET_phi": out.met_phi.astype(np.float32),
    }


def _reconstruct_truth(events: ak.Array) -> dict[str, Any]:
    import fastjet
    import vector

    vector.register_awkward()
    prt = events.prt
    p4 = ak.with_name(prt.p, "Momentum4D")
    aid = abs(prt.id)
    final = (prt.status > 0) & (aid != 12) & (aid != 14) & (aid != 16)
    vis = p4[final]
    vis_id = prt.id[final]
    pt, eta = vis.pt, vis.eta
    # leptons with isolation
    lep_mask = ((abs(vis_id) == 11) | (abs(vis_id) == 13)) & (pt > 10) & (abs(eta) < 2.5)
    leps = vis[lep_mask]
    lep_id = vis_id[lep_mask]
    pairs = ak.cartesian({"l": leps, "p": vis}, nested=True)
    dr = pairs.l.deltaR(pairs.p)
    iso = ak.sum(ak.where((dr < 0.3) & (dr > 1e-9), pairs.p.pt, 0.0), axis=2) / leps.pt
    good = iso < 0.15
    leps, lep_id, iso = leps[good], lep_id[good], iso[good]
    # jets from the rest (leptons removed), ghost-associated b hadrons
    used = ak.local_index(pt)
    lep_local = used[lep_mask][good]
    keep = (abs(eta) < 4.7) & ~ak.any(used[:, :, None] == lep_local[:, None, :], axis=2)
    jet_in = vis[keep]
    hadron = abs(prt.id)
    is_b_hadron = ((hadron // 100) % 10 == 5) | ((hadron // 1000) % 10 == 5)
    bh = p4[is_b_hadron & (hadron > 100)]
    ghosts = ak.zip(
        {"px": bh.px * 1e-18, "py": bh.py * 1e-18, "pz": bh.pz * 1e-18, "E": bh.E * 1e-18},
        with_name="Momentum4D",
    )
    reals = ak.zip({"px": jet_in.px, "py": jet_in.py, "pz": jet_in.pz, "E": jet_in.E}, with_name="Momentum4D")
    n_real = ak.num(reals)
    inputs = ak.concatenate([reals, ghosts], axis=1)
    seq = fastjet.ClusterSequence(inputs, fastjet.JetDefinition(fastjet.antikt_algorithm, 0.4))
    jets = ak.with_name(seq.inclusive_jets(), "Momentum4D")
    cidx = seq.constituent_index()
    btag = ak.any(cidx >= n_real, axis=2)
    sel = (jets.pt > 20.0) & (abs(jets.eta) < 4.7)
    order = ak.argsort(jets.pt[sel], axis=1, ascending=False)
    jets_s, btag_s = jets[sel][order], btag[sel][order]
    met_in = vis[abs(eta) < 4.9]
    met_x, met_y = -ak.sum(met_in.px, axis=1), -ak.sum(met_in.py, axis=1)
    lep_order = ak.argsort(leps.pt, axis=1, ascending=False)
    leps, lep_id, iso = leps[lep_order], lep_id[lep_order], iso[lep_order]

    def collection(mask: ak.Array, mass: float) -> ak.Array:
        sel_l = leps[mask]
        return ak.zip(
            {
                "pt": ak.values_astype(sel_l.pt, np.float32),
                "eta": ak.values_astype(sel_l.eta, np.float32),
                "phi": ak.values_astype(sel_l.phi, np.float32),
                "mass": ak.values_astype(ak.zeros_like(sel_l.pt) + mass, np.float32),
                "charge": ak.values_astype(-np.sign(lep_id[mask]), np.int32),
                "pdgId": ak.values_astype(lep_id[mask], np.int32),
                "pfRelIso03_all": ak.values_astype(iso[mask], np.float32),
            }
        )

    return {
        "Electron": collection(abs(lep_id) == 11, 0.000511),
        "Muon": collection(abs(lep_id) == 13, 0.10566),
        "Jet": ak.zip(
            {
                "pt": ak.values_astype(jets_s.pt, np.float32),
                "eta": ak.values_astype(jets_s.eta, np.float32),
                "phi": ak.values_astype(jets_s.phi, np.float32),
                "mass": ak.values_astype(jets_s.mass, np.float32),
                "btagDeepFlavB": ak.values_astype(btag_s, np.float32),
                "hadronFlavour": ak.values_astype(ak.where(btag_s, 5, 0), np.int32),
            }
        ),
        "MET_pt": ak.to_numpy(np.hypot(met_x, met_y)).astype(np.float32),
        "MET_phi": ak.to_numpy(np.arctan2(met_y, met_x)).astype(np.float32),
    }


def _weights(hp: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    comps = me_components(hp["p_q"], hp["p_qbar"], hp["p_lm"], hp["p_lp"], hp["quark"], ew=None)
    sm = comps["sm"]
    return {k: comps[k] / sm for k in comps if k != "sm"}


def generate_vh(
    path: str | os.PathLike[str],
    n_events: int,
    seed: int,
    *,
    points: Mapping[str, Mapping[str, float]] | None = None,
    unweight_to: str | None = None,
    detector: str = "cms",
    batch_size: int = 200,
    progress: Callable[[int], None] | None = None,
) -> VHGenerationResult:
    """Generate ``n_events`` Z h events (SM, or unweighted at the named point ``unweight_to``).

    Parameters
    ----------
    path : path
        Output ROOT file (TTree ``Events``).
    n_events : int
        Events written.
    seed : int
    points : mapping of name to {parameter: value}
        Named parameter points whose weights are stored as ``SMEFTweight_<name>``.
    unweight_to : str, optional
        Name in ``points``: accept–reject the SM events to an unweighted sample at that point.
    detector : {"cms", "none"}
        Delphes-CMS-card-like reconstruction or truth (see the module docstring).
    """
    import uproot

    if n_events < 1:
        raise ConfigError(f"n_events must be >= 1, got {n_events}")
    points = dict(points or {})
    if detector not in ("cms", "none"):
        raise ConfigError(f"unknown detector {detector!r}; use 'cms' or 'none'")
    if unweight_to is not None and unweight_to not in points:
        raise ConfigError(f"unweight point {unweight_to!r} is not among the named points {sorted(points)}")
    pythia = make_pythia(vh_settings(), seed)
    rng = np.random.default_rng(seed)
    n_written = n_generated = 0
    w_max: float | None = None
    n_above = 0
    ticker = ProgressLog(f"{Path(path).name}: generating Zh", n_events)
    with atomic_path(path) as tmp, uproot.recreate(tmp) as fout:
        tree = None
        while n_written < n_events:
            events = pythia.nextBatch(batch_size)
            n_generated += len(events)
            hp = hard_process(events)
            weights = _weights(hp)
            keep = np.ones(len(events), dtype=bool)
            if unweight_to is not None:
                w = morph({"sm": np.ones(len(events)), **weights}, points[unweight_to])
                if w_max is None:
                    w_max = 1.5 * float(w.max())
                n_above += int((w > w_max).sum())
                keep = rng.random(len(w)) < w / w_max
            idx = np.flatnonzero(keep)[: n_events - n_written]
            if len(idx) == 0:
                continue
            ev = events[idx]
            reco = reconstruct(ev, detector, rng, pythia.particleData)
            gen_z, gen_h = _ptetaphim(hp["p_z"][idx]), _ptetaphim(hp["p_h"][idx])
            n = len(idx)
            data: dict[str, Any] = {
                "run": np.ones(n, np.uint32),
                "luminosityBlock": np.full(n, seed + 1, np.uint32),
                "event": (np.arange(n_written, n_written + n) + 1).astype(np.uint64),
                "genWeight": np.ones(n, np.float32),
                **reco,
                **{f"GenZ_{k}": v.astype(np.float32) for k, v in gen_z.items()},
                **{f"GenH_{k}": v.astype(np.float32) for k, v in gen_h.items()},
                "GenZ_leptonPdgId": np.abs(hp["lepton"][idx]).astype(np.int32),
                "Generator_id1": hp["quark"][idx].astype(np.int32),
                "SMEFT_sm": np.ones(n, np.float64),
                **{f"SMEFT_{k}": v[idx].astype(np.float64) for k, v in weights.items()},
            }
            for name, point in points.items():
                data[f"SMEFTweight_{name}"] = morph(
                    {"sm": np.ones(n), **{k: v[idx] for k, v in weights.items()}}, point
                )
            if tree is None:
                tree = fout.mktree(
                    "Events", {k: (v.type if isinstance(v, ak.Array) else v.dtype) for k, v in data.items()}
                )
            tree.extend(data)
            n_written += n
            if progress is not None:
                progress(n_written)
            ticker(n_written)
    sigma = float(pythia.infoPython().sigmaGen()) * 1e9
    if n_above:
        log.warning(
            "%s: %d event(s) had w > w_max = %.3g; the unweighted sample is slightly biased there",
            path,
            n_above,
            w_max,
        )
    log.info("%s: %d events written from %d generated", path, n_written, n_generated)
    return VHGenerationResult(
        Path(path), n_written, n_generated, n_written / max(n_generated, 1), sigma, w_max, n_above
    )
