"""Z h and W h events with Pythia 8 and SMEFT matrix-element reweighting, as NanoAOD-like ROOT.

Process: ``HiggsSM:ffbar2HZ`` at √s = 13 TeV, Z → e⁺e⁻ / μ⁺μ⁻, h → b b̄ (m_h = 125 GeV), with
shower, MPI and hadronisation (or ``HiggsSM:ffbar2HW``, W → eν / μν, with ``process="wh"``).
For every event the hard-process momenta (incoming q q̄, the h, and the V-decay leptons boosted
back to the hard-process V frame, so that momentum is conserved exactly) feed
:func:`hep_aa.generate.smeft.me_components` (Z h) or
:func:`hep_aa.generate.smeft.me_components_wh` (W h); the per-event SMEFT
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
``GenZ_*`` (W h: ``GenW_*`` with ``GenW_charge``; the reconstruction is the same, so a W h event
has one lepton, MET and the b jets), ``GenH_*``, ``Generator_id1/2`` (incoming quark and
antiquark) and the weights, readable with coffea's ``NanoAODSchema``.

An "anomaly" sample at a parameter point is made by partial unweighting: accept–reject on
W/w_max with W = Pythia's event weight × w(c) and w_max = 1.5 × the largest W of the first
batch (or, with ``unweight_quantile``, a quantile of its W); the accepted events with W > w_max
keep ``genWeight`` = W/w_max, so the sample is exact (the SMEFT weights of stress-test points have tails far above any pilot maximum: plain
accept–reject on the true maximum keeps ~10⁻³ of the events, see
``benchmarks/vh_benchmark_points.py``).

Generation options: ``process="wh"`` (q q̄' → W(eν/μν) h, ``GenW_*`` instead of ``GenZ_*``;
SMEFT weights once :mod:`hep_aa.generate.smeft` has ``me_components_wh``); ``pthat_min``, a
generator slice p̂_T > pthat_min (unweighted; p̂_T = p_T of the hard-process V); ``bias_pow``,
Pythia's phase-space bias (p̂_T/bias_ref)^pow with the exact compensating weight in
``genWeight`` (normalised to mean 1 over the file). ``genWeight`` is therefore 1 for plain
samples, ≥ 1 for the rare overflow events of partially unweighted ones, and the bias weight
for biased SM samples; ``hep-aa features vh`` puts it into the table's ``weight`` column.

For an anomaly-detection sample the boosted slice is what makes the SMEFT signal usable: SM
with ``pthat_min=150``, each anomaly sample with ``pthat_min=150, bias_pow=3, bias_ref=150,
unweight_to=NAME, unweight_quantile=0.5`` (exact; Kish-effective 0.21 events per generated one for
``contact_uL``, against 0.09 without slice and bias and 0.006 with plain accept–reject on
1.5 × the pilot maximum); measured end to end in BENCHMARKS.md.

Named benchmark points: :data:`BENCHMARK_POINTS` (measured reach in
``benchmarks/vh_benchmark_points.py`` and BENCHMARKS.md). Higgs-basis couplings c relate to
Warsaw-like coefficients as c = C v²/Λ²: at Λ = 1 TeV, C = 16.5 c; a unit coefficient
corresponds to Λ = v/√|c| (δg = 0.03 ↔ 1.4 TeV).
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
from hep_aa.generate import smeft
from hep_aa.generate.lhco import ProgressLog, make_pythia
from hep_aa.generate.smeft import PARAMETERS, ElectroweakInputs, me_components, morph
from hep_aa.io.artifacts import atomic_path

__all__ = [
    "BENCHMARK_POINTS",
    "PROCESSES",
    "BenchmarkPoint",
    "VHGenerationResult",
    "generate_vh",
    "hard_process",
    "parse_point",
    "partial_unweight",
    "parton_sample",
    "vh_settings",
]

PROCESSES = ("zh", "wh")

log = logging.getLogger(__name__)


def vh_settings(
    sqrt_s: float = 13000.0,
    *,
    process: str = "zh",
    pthat_min: float | None = None,
    bias_pow: float | None = None,
    bias_ref: float = 100.0,
) -> list[str]:
    """Pythia settings of q q̄ → Z h (Z → ee/μμ) or q q̄' → W h (W → eν/μν), h → b b̄.

    ``pthat_min``: generator cut p̂_T > ``pthat_min`` [GeV] (a phase-space slice; the events stay
    unweighted, σ of the slice from ``sigmaGen``). ``bias_pow``: Pythia's phase-space bias
    ``PhaseSpace:bias2Selection``: events are sampled with an extra factor (p̂_T / ``bias_ref``)^pow
    and carry the exact compensating weight (``bias_ref`` / p̂_T)^pow.
    """
    if process not in PROCESSES:
        raise ConfigError(f"unknown process {process!r}; use {' or '.join(PROCESSES)}")
    settings = [f"Beams:eCM = {sqrt_s}", "25:m0 = 125.0", "25:onMode = off", "25:onIfMatch = 5 -5"]
    if process == "zh":
        settings += ["HiggsSM:ffbar2HZ = on", "23:onMode = off", "23:onIfAny = 11 13"]
    else:
        settings += ["HiggsSM:ffbar2HW = on", "24:onMode = off", "24:onIfAny = 11 13"]
    if pthat_min is not None:
        if not pthat_min >= 0.0:
            raise ConfigError(f"pthat_min must be >= 0 GeV, got {pthat_min}")
        settings.append(f"PhaseSpace:pTHatMin = {pthat_min}")
    if bias_pow is not None:
        if not 0.0 < bias_pow <= 8.0 or not bias_ref > 0.0:
            raise ConfigError(
                f"bias: power must be in (0, 8] and the reference pT > 0 GeV, got {bias_pow} and {bias_ref}"
            )
        settings += [
            "PhaseSpace:bias2Selection = on",
            f"PhaseSpace:bias2SelectionPow = {bias_pow}",
            f"PhaseSpace:bias2SelectionRef = {bias_ref}",
        ]
    return settings


#: Vacuum expectation value [GeV] (G_F scheme) for the Λ equivalents of the Higgs-basis couplings.
_V_GEV = float(ElectroweakInputs().v)


@dataclass(frozen=True)
class BenchmarkPoint:
    """A named SMEFT parameter point (Higgs basis) with its physics context.

    ``parton_auroc`` records the measured best possible SM-vs-point separation (AUROC of the
    exact likelihood ratio, q q̄ → Z h at 13 TeV, all events / p̂_T > 150 GeV); see
    ``benchmarks/vh_benchmark_points.py`` for the numbers and how they were measured.
    """

    name: str
    point: Mapping[str, float]
    operator: str
    bounds: str
    stress_test: bool
    parton_auroc: tuple[float, float]

    def wilson_1tev(self) -> dict[str, float]:
        """Warsaw-like coefficient C = c Λ²/v² at Λ = 1 TeV for each coupling (c = C v²/Λ²)."""
        return {p: c * (1000.0 / _V_GEV) ** 2 for p, c in self.point.items()}

    def lambda_equivalent_tev(self) -> dict[str, float]:
        """The new-physics scale Λ/√|C| = v/√|c| [TeV] of a unit-coefficient operator."""
        return {p: _V_GEV / np.sqrt(abs(c)) / 1000.0 for p, c in self.point.items() if c}


_CONTACT_BOUNDS = (
    "In dimension-six SMEFT the hZqq contact coupling equals the Z-vertex correction "
    "(δg^{hZq} = δg^{Zq}, LHCHXSWG-INT-2015-001), which LEP/SLD Z-pole data bound at the "
    "10⁻³ (left-handed) to 10⁻² (δg^{Zd}_R) level; LHC boosted VH measurements alone reach the "
    "few-10⁻² level."
)

#: Named benchmark points (``hep-aa generate vh --point NAME``). Stress-test points lie beyond
#: current global-fit bounds on purpose: they make the anomaly visible to every method.
BENCHMARK_POINTS: dict[str, BenchmarkPoint] = {
    b.name: b
    for b in (
        BenchmarkPoint(
            "contact_uL",
            {"dgzh_uL": -0.03},
            "hZūu left-handed contact term δg^{hZu}_L (energy-growing interference ∝ ŝ/m_Z²); "
            "σ(Zh) × 1.4; the u ū amplitude vanishes near √ŝ ≈ 310 GeV and exceeds the SM above 440 GeV",
            _CONTACT_BOUNDS + " |δg| = 0.03 is about ten times the Z-pole bound: stress-test point.",
            True,
            (0.82, 0.92),
        ),
        BenchmarkPoint(
            "contact_dR",
            {"dgzh_dR": 0.03},
            "hZd̄d right-handed contact term δg^{hZd}_R (the right-handed down coupling, small "
            "SM interference)",
            _CONTACT_BOUNDS + " 0.03 is at or beyond the loosest Z-pole bound: stress-test point.",
            True,
            (0.72, 0.87),
        ),
        BenchmarkPoint(
            "czbox",
            {"czbox": -0.1},
            "c_z□: momentum-dependent hZZ form factor, flavour-universal and aligned with the SM "
            "Z couplings (the hZZ form factor A vanishes near √ŝ ≈ 620 GeV); σ(Zh) × 0.8",
            "c_z□ enters the triple-gauge coupling δg_1z and the Higgs rates; global fits "
            "constrain it at the few-10⁻² level: stress-test point.",
            True,
            (0.71, 0.93),
        ),
        BenchmarkPoint(
            "czz",
            {"czz": -0.2},
            "c_zz: the transverse h Z_μν Z^μν structure, which with the dependent c_γ□ "
            "(q q̄ → γ* → Z h) also grows with energy; σ(Zh) × 0.9",
            "c_zz enters h → Zγ, γγ, ZZ* and δg_1z; global fits constrain it at the 10⁻¹ level "
            "or better: stress-test point.",
            True,
            (0.69, 0.88),
        ),
        BenchmarkPoint(
            "zpole_uLdL",
            {"dgzh_uL": 0.001, "dgzh_dL": -0.001},
            "isospin-odd left-handed contact terms at the size Z-pole data allow (the previous "
            "default anomaly point)",
            _CONTACT_BOUNDS + " Within current bounds; invisible at today's luminosities.",
            False,
            (0.51, 0.53),
        ),
        BenchmarkPoint(
            "zpole_dR",
            {"dgzh_dR": 0.001},
            "right-handed down contact term at the size Z-pole data allow (the previous default "
            "unseen point)",
            _CONTACT_BOUNDS + " Within current bounds; invisible at today's luminosities.",
            False,
            (0.50, 0.51),
        ),
    )
}


def parse_point(text: str) -> tuple[str, dict[str, float]]:
    """Parse a benchmark ``NAME`` (:data:`BENCHMARK_POINTS`), ``NAME=c1,c2,...`` (values in
    the order of PARAMETERS) or ``NAME=p:c,q:c``."""
    if "=" not in text:
        if text in BENCHMARK_POINTS:
            return text, dict(BENCHMARK_POINTS[text].point)
        raise ConfigError(
            f"--point {text!r}: not a benchmark point ({', '.join(BENCHMARK_POINTS)}); "
            "or give NAME=c1,c2,... or NAME=param:value,..."
        )
    name, values = text.split("=", 1)
    if not name.isidentifier():
        raise ConfigError(f"--point {text!r}: the name {name!r} must be a simple identifier")
    items = [v.strip() for v in values.split(",") if v.strip()]
    if not items:
        raise ConfigError(f"--point {text!r}: no values after '='")
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
    if not all(np.isfinite(v) for v in point.values()):
        raise ConfigError(f"--point {text!r}: values must be finite")
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
    #: Kish effective number of events of the written weights, (Σw)²/Σw² (= n_written if unweighted)
    n_effective: float = 0.0


def _four(prt: ak.Array, idx: np.ndarray) -> np.ndarray:
    """(E, px, py, pz) of particle ``idx[i]`` in event ``i``."""
    sel = prt[ak.local_index(prt.id) == idx[:, None]]
    p = ak.firsts(sel.p)
    return np.column_stack([ak.to_numpy(p.e), ak.to_numpy(p.px), ak.to_numpy(p.py), ak.to_numpy(p.pz)])


def hard_process(events: ak.Array, process: str = "zh") -> dict[str, np.ndarray]:
    """Consistent hard-process kinematics of ffbar2HZ / ffbar2HW events from the event record.

    Lines 3 and 4 are the incoming partons, 5 the h and 6 the Z or W (Pythia's fixed layout for
    these processes). The vector boson decays late, after the ISR recoil: its leptons
    (status ±23) are boosted to the rest frame of their mother V and then with the line-6 V,
    which restores exact momentum conservation with lines 3–6.

    Returns ``p_q, p_qbar, quark, antiquark, p_h, p_v`` and, for Z h, ``p_lm, p_lp`` (ℓ⁻, ℓ⁺),
    for W h ``p_l, p_nu`` (charged lepton, neutrino); ``lepton`` is the charged lepton's PDG id
    and ``p_z`` (Z h) / ``p_w`` (W h) alias ``p_v``.
    """
    if process not in PROCESSES:
        raise ConfigError(f"unknown process {process!r}; use {' or '.join(PROCESSES)}")
    prt = events.prt
    n = len(prt)
    ids = prt.id
    p3, p4 = _four(prt, np.full(n, 3)), _four(prt, np.full(n, 4))
    id3, id4 = ak.to_numpy(ids[:, 3]), ak.to_numpy(ids[:, 4])
    quark_first = id3 > 0
    p_q = np.where(quark_first[:, None], p3, p4)
    p_qbar = np.where(quark_first[:, None], p4, p3)
    quark = np.where(quark_first, id3, id4)
    antiquark = np.where(quark_first, id4, id3)
    p_h, p_v = _four(prt, np.full(n, 5)), _four(prt, np.full(n, 6))
    local = ak.local_index(ids)
    hard = abs(prt.status) == 23  # 23 when no FSR followed, -23 when it did
    charged = ((abs(ids) == 11) | (abs(ids) == 13)) & hard
    if process == "zh":
        first = ak.to_numpy(ak.firsts(local[charged & (ids > 0)]))  # ℓ⁻
        second = ak.to_numpy(ak.firsts(local[charged & (ids < 0)]))  # ℓ⁺
    else:
        first = ak.to_numpy(ak.firsts(local[charged]))
        second = ak.to_numpy(ak.firsts(local[((abs(ids) == 12) | (abs(ids) == 14)) & hard]))
    mother = ak.to_numpy(ak.firsts(prt.mother1[local == first[:, None]]))
    v_final = _four(prt, mother)
    lepton_id = ak.to_numpy(ak.firsts(ids[local == first[:, None]]))
    to_rest = -v_final[:, 1:] / v_final[:, :1]
    to_hard = p_v[:, 1:] / p_v[:, :1]
    p_first = boost(boost(_four(prt, first), to_rest), to_hard)
    p_second = boost(boost(_four(prt, second), to_rest), to_hard)
    out = {
        "p_q": p_q,
        "p_qbar": p_qbar,
        "quark": quark,
        "antiquark": antiquark,
        "p_h": p_h,
        "p_v": p_v,
        "lepton": lepton_id,
    }
    if process == "zh":
        out.update(p_z=p_v, p_lm=p_first, p_lp=p_second)
    else:
        out.update(p_w=p_v, p_l=p_first, p_nu=p_second)
    return out


_HARD_PROCESS_ONLY = (
    "PartonLevel:ISR = off",
    "PartonLevel:FSR = off",
    "PartonLevel:MPI = off",
    "HadronLevel:all = off",
)


def event_weights(events: ak.Array) -> np.ndarray:
    """Pythia's per-event weight (``info.weight()``; 1 unless the phase space is biased)."""
    return ak.to_numpy(events.info.weights[:, 0]).astype(np.float64)


def parton_sample(
    n_events: int,
    seed: int,
    *,
    process: str = "zh",
    pthat_min: float | None = None,
    bias_pow: float | None = None,
    bias_ref: float = 100.0,
    batch_size: int = 2000,
    with_smeft: bool = True,
) -> dict[str, np.ndarray]:
    """Hard-process events only (no ISR, FSR, MPI or hadronisation; about 10⁴ events/s).

    For parton-level studies of the SMEFT weights: returns :func:`hard_process` arrays plus
    ``weight`` (Pythia's event weight, exact under the phase-space bias), ``pt_v`` (p_T of
    the V = p̂_T) and, where the matrix element is available, ``smeft`` — the SMEFT weight
    components normalised to the SM (``sm`` = 1, ``lin_<p>``, ``quad_<p>_<q>``) for :func:`morph`.
    """
    settings = vh_settings(process=process, pthat_min=pthat_min, bias_pow=bias_pow, bias_ref=bias_ref)
    pythia = make_pythia(
        [*settings, *_HARD_PROCESS_ONLY],
        seed,
    )
    chunks, weights = [], []
    done = 0
    while done < n_events:
        events = pythia.nextBatch(min(batch_size, n_events - done))
        chunks.append(hard_process(events, process))
        weights.append(event_weights(events))
        done += len(events)
    out = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    out["weight"] = np.concatenate(weights)
    out["pt_v"] = np.hypot(out["p_v"][:, 1], out["p_v"][:, 2])
    comps = _smeft_components(out, process) if with_smeft else None
    if comps is not None:
        out["smeft"] = comps  # type: ignore[assignment]
    return out


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


def partial_unweight(w: np.ndarray, w_max: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Accept event i with probability min(1, w_i/w_max); accepted events carry max(1, w_i/w_max).

    Exact for any ``w_max`` > 0: E[accepted × weight] = w_i/w_max for every event, so weighted
    sums over the accepted events estimate those over the input (times 1/w_max); events
    below ``w_max`` come out unweighted. Returns (accepted mask, weights of all events).
    """
    if not w_max > 0:
        raise ConfigError(f"w_max must be > 0, got {w_max}")
    w = np.asarray(w, dtype=np.float64)
    if np.any(w < -1e-9 * np.abs(w).max(initial=0.0)):
        raise ConfigError("unweighting needs non-negative weights; the point gives |M|² < 0 somewhere")
    ratio = np.clip(w, 0.0, None) / w_max  # rounding of an exactly vanishing |M|²
    return rng.random(len(ratio)) < ratio, np.maximum(1.0, ratio)


def _me_wh() -> Callable[..., dict[str, np.ndarray]] | None:
    """The W h matrix element of :mod:`hep_aa.generate.smeft` when this version has one."""
    return getattr(smeft, "me_components_wh", None)


def _smeft_components(hp: Mapping[str, np.ndarray], process: str) -> dict[str, np.ndarray] | None:
    """SMEFT weight components normalised to the SM (``sm`` = 1); None without a W h ME."""
    if process == "zh":
        comps = me_components(hp["p_q"], hp["p_qbar"], hp["p_lm"], hp["p_lp"], hp["quark"], ew=None)
    else:
        me_wh = _me_wh()
        if me_wh is None:
            return None
        comps = me_wh(hp["p_q"], hp["p_qbar"], hp["p_l"], hp["p_nu"], hp["quark"], hp["antiquark"], ew=None)
    sm = comps["sm"]
    return {"sm": np.ones_like(sm), **{k: comps[k] / sm for k in comps if k != "sm"}}


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
    process: str = "zh",
    pthat_min: float | None = None,
    bias_pow: float | None = None,
    bias_ref: float = 100.0,
    unweight_quantile: float | None = None,
) -> VHGenerationResult:
    """Generate ``n_events`` V h events (SM, or unweighted at the named point ``unweight_to``).

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
        Name in ``points``: accept–reject to an unweighted sample at that point, on the product
        of Pythia's event weight and the SMEFT weight (so it stays exact with ``bias_pow``).
    detector : {"cms", "none"}
        Delphes-CMS-card-like reconstruction or truth (see the module docstring).
    process : {"zh", "wh"}
        q q̄ → Z(ℓℓ) h or q q̄' → W(ℓν) h.
    pthat_min : float, optional
        Generator cut p̂_T > ``pthat_min`` [GeV]: a phase-space slice (unweighted events; the
        result's ``sigma_pb`` is the slice's cross-section).
    bias_pow, bias_ref : float, optional
        Phase-space bias (p̂_T / ``bias_ref``)^``bias_pow`` (Pythia ``bias2Selection``) that
        populates the high-p_T(V) tail. Without ``unweight_to`` the events are weighted:
        ``genWeight`` is Pythia's exact compensating weight, normalised so that the written
        weights have mean 1 (sum = number of events). With ``unweight_to`` the written sample
        is unweighted (``genWeight`` = 1).
    unweight_quantile : float, optional
        With ``unweight_to``: the threshold w_max is this quantile of the first batch's W
        instead of 1.5 × its maximum. Exact either way; a low threshold (e.g. 0.5) keeps far
        more events (those above it carry ``genWeight`` = W/w_max > 1), the best effective
        statistics per generated event for heavy-tailed points (benchmarks/vh_benchmark_points.py).
    """
    import uproot

    if n_events < 1:
        raise ConfigError(f"n_events must be >= 1, got {n_events}")
    points = dict(points or {})
    if detector not in ("cms", "none"):
        raise ConfigError(f"unknown detector {detector!r}; use 'cms' or 'none'")
    if unweight_quantile is not None and not 0.0 < unweight_quantile <= 1.0:
        raise ConfigError(f"unweight_quantile must be in (0, 1], got {unweight_quantile}")
    if unweight_to is not None and unweight_to not in points:
        raise ConfigError(f"unweight point {unweight_to!r} is not among the named points {sorted(points)}")
    settings = vh_settings(process=process, pthat_min=pthat_min, bias_pow=bias_pow, bias_ref=bias_ref)
    if process == "wh" and points and _me_wh() is None:
        raise ConfigError(
            "W h SMEFT points need the W h matrix element (hep_aa.generate.smeft.me_components_wh), "
            "which this version lacks; generate SM W h events without --point/--unweight"
        )
    for name, point in points.items():
        unknown = set(point) - set(PARAMETERS)
        if unknown:
            raise ConfigError(
                f"point {name!r}: unknown parameter(s) {sorted(unknown)}; use {', '.join(PARAMETERS)}"
            )
    weighted = bias_pow is not None and unweight_to is None
    pythia = make_pythia(settings, seed)
    rng = np.random.default_rng(seed)
    n_written = n_generated = 0
    w_max: float | None = None
    n_above = 0
    boson = "Z" if process == "zh" else "W"
    ticker = ProgressLog(f"{Path(path).name}: generating {boson}h", n_events)
    buffered: list[dict[str, Any]] = []
    sum_w = sum_w2 = 0.0
    with atomic_path(path) as tmp, uproot.recreate(tmp) as fout:
        tree = None
        while n_written < n_events:
            events = pythia.nextBatch(batch_size)
            n_generated += len(events)
            hp = hard_process(events, process)
            w_event = event_weights(events)
            comps = _smeft_components(hp, process)
            keep = np.ones(len(events), dtype=bool)
            if unweight_to is not None:
                assert comps is not None
                w = w_event * morph(comps, points[unweight_to])
                if w_max is None:
                    w_max = (
                        1.5 * float(w.max())
                        if unweight_quantile is None
                        else float(np.quantile(w, unweight_quantile))
                    )
                    if not w_max > 0:
                        raise ConfigError(f"point {unweight_to!r}: all weights of the first batch are zero")
                n_above += int((w > w_max).sum())
                keep, w_kept = partial_unweight(w, w_max, rng)
            idx = np.flatnonzero(keep)[: n_events - n_written]
            if len(idx) == 0:
                continue
            ev = events[idx]
            reco = reconstruct(ev, detector, rng, pythia.particleData)
            gen_v, gen_h = _ptetaphim(hp["p_v"][idx]), _ptetaphim(hp["p_h"][idx])
            n = len(idx)
            if weighted:
                gen_weight = w_event[idx]
            elif unweight_to is not None:
                gen_weight = w_kept[idx]
            else:
                gen_weight = np.ones(n)
            sum_w += float(gen_weight.sum())
            sum_w2 += float((gen_weight**2).sum())
            data: dict[str, Any] = {
                "run": np.ones(n, np.uint32),
                "luminosityBlock": np.full(n, seed + 1, np.uint32),
                "event": (np.arange(n_written, n_written + n) + 1).astype(np.uint64),
                "genWeight": gen_weight.astype(np.float32),
                **reco,
                **{f"Gen{boson}_{k}": v.astype(np.float32) for k, v in gen_v.items()},
                **{f"GenH_{k}": v.astype(np.float32) for k, v in gen_h.items()},
                f"Gen{boson}_leptonPdgId": np.abs(hp["lepton"][idx]).astype(np.int32),
                "Generator_id1": hp["quark"][idx].astype(np.int32),
                "Generator_id2": hp["antiquark"][idx].astype(np.int32),
            }
            if process == "wh":
                data["GenW_charge"] = (-np.sign(hp["lepton"][idx])).astype(np.int32)
            if comps is not None:
                data["SMEFT_sm"] = np.ones(n, np.float64)
                data.update({f"SMEFT_{k}": v[idx].astype(np.float64) for k, v in comps.items() if k != "sm"})
                for name, point in points.items():
                    data[f"SMEFTweight_{name}"] = morph({k: v[idx] for k, v in comps.items()}, point)
            if weighted:
                buffered.append(data)  # written once the weight normalisation is known
            else:
                if tree is None:
                    tree = _make_tree(fout, data)
                tree.extend(data)
            n_written += n
            if progress is not None:
                progress(n_written)
            ticker(n_written)
        if weighted:
            scale = n_written / sum_w
            for data in buffered:
                data["genWeight"] = (data["genWeight"].astype(np.float64) * scale).astype(np.float32)
                if tree is None:
                    tree = _make_tree(fout, data)
                tree.extend(data)
    sigma = float(pythia.infoPython().sigmaGen()) * 1e9
    if n_above:
        log.info(
            "%s: %d event(s) had w > w_max = %.3g and carry genWeight = w/w_max > 1 (effective %.0f of %d)",
            path,
            n_above,
            w_max,
            sum_w**2 / sum_w2,
            n_written,
        )
    n_eff = sum_w**2 / sum_w2 if sum_w2 > 0 else 0.0
    log.info(
        "%s: %d %sh events written from %d generated (effective %.0f)",
        path,
        n_written,
        boson,
        n_generated,
        n_eff,
    )
    return VHGenerationResult(
        Path(path),
        n_written,
        n_generated,
        n_written / max(n_generated, 1),
        sigma,
        w_max,
        n_above,
        n_eff,
    )


def _make_tree(fout: Any, data: Mapping[str, Any]) -> Any:
    return fout.mktree(
        "Events", {k: (v.type if isinstance(v, ak.Array) else v.dtype) for k, v in data.items()}
    )
