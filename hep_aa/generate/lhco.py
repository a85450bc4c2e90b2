"""LHCO2020-like events with Pythia 8 (pythia8mc), written in the LHCO HDF5 layout.

Processes, √s = 13 TeV, Pythia's default tune (MPI, ISR/FSR, hadronisation, decays on):

- ``qcd``: QCD dijets, ``HardQCD:all`` with ``PhaseSpace:pTHatMin`` = 750 GeV by default.
  This is one unweighted slice whose lower edge sits below every pT̂ that can pass the
  trigger: with pTHatMin = 600 GeV the smallest pT̂ among events passing the 1.2 TeV trigger
  was 795 GeV (18% below 1 TeV), so starting at 750 GeV removes no passing events while
  wasting fewer than a 600 GeV cut. The written sample is unweighted, like the real one.
- ``signal``: W′ → X Y, X → q q̄′, Y → q q̄ (LHCO R&D signal, default m = 3500 / 500 / 100 GeV).
  Pythia's spare BSM states are reused: W′ = 34 (``NewGaugeBoson:ffbar2Wprime``, decay forced to
  37 35, width forced), X = 37 (H±, forced to u d̄), Y = 35 (H⁰, forced to d d̄), both with a
  forced 1 GeV width. The W′ line shape is cut to [0.7, 1.3] × m_W′ (``34:mMin/mMax``).

Detector acceptance (documented, simple): visible final-state particles (neutrinos dropped)
with |η| < 4.0 and pT > 0.5 GeV, taken as massless (pT, η, φ) like the LHCO "hadrons";
optional calorimeter-like smearing of pT by σ/pT = 50%/√E ⊕ 5%. Selection, as in the
LHCO sample: ≥ 1 anti-kT R = 1.0 jet with |η| < 2.5 and pT > 1.2 TeV. At most 700 particles
(the hardest) are kept per event. ``n_events`` counts events written (after selection).

Different seeds give independent samples; the same seed reproduces the file exactly.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import awkward as ak
import numpy as np

from hep_aa.exceptions import ConfigError, DependencyError
from hep_aa.features.jets import cluster_leading_jets
from hep_aa.io.lhco import LHCOWriter, pad_particles

__all__ = [
    "Acceptance",
    "LHCOGenerationResult",
    "generate_lhco",
    "lhco_settings",
    "make_pythia",
    "pass_trigger",
]

log = logging.getLogger(__name__)

QUIET = [
    "Next:numberCount = 0",
    "Next:numberShowEvent = 0",
    "Next:numberShowInfo = 0",
    "Next:numberShowProcess = 0",
    "Init:showChangedSettings = off",
    "Init:showChangedParticleData = off",
    "Init:showProcesses = off",
    "Init:showMultipartonInteractions = off",
    "Print:quiet = on",
]


@dataclass(frozen=True)
class Acceptance:
    """Simple detector acceptance for generated final-state particles."""

    eta_max: float = 4.0
    pt_min: float = 0.5
    smear: bool = False


@dataclass
class LHCOGenerationResult:
    """What a generation run did."""

    path: Path
    n_written: int
    n_generated: int
    n_passed: int
    sigma_mb: float
    settings: list[str] = field(default_factory=list)

    @property
    def efficiency(self) -> float:
        """Fraction of generated events passing the selection."""
        return self.n_passed / self.n_generated if self.n_generated else 0.0


def lhco_settings(
    process: Literal["qcd", "signal"],
    *,
    pthat_min: float = 750.0,
    m_wprime: float = 3500.0,
    m_x: float = 500.0,
    m_y: float = 100.0,
    sqrt_s: float = 13000.0,
) -> list[str]:
    """Pythia settings strings of a process (see the module docstring)."""
    common = [f"Beams:eCM = {sqrt_s}"]
    if process == "qcd":
        return [*common, "HardQCD:all = on", f"PhaseSpace:pTHatMin = {pthat_min}"]
    if process == "signal":
        if m_x <= 0 or m_y <= 0 or m_x + m_y >= m_wprime:
            raise ConfigError(
                f"signal masses must satisfy m_X + m_Y < m_W' (got {m_x} + {m_y} vs {m_wprime})"
            )
        return [
            *common,
            "NewGaugeBoson:ffbar2Wprime = on",
            f"34:m0 = {m_wprime}",
            f"34:mMin = {0.7 * m_wprime}",
            f"34:mMax = {1.3 * m_wprime}",
            "34:onMode = off",
            "34:addChannel = 1 1.0 100 37 35",
            "34:doForceWidth = on",
            f"34:mWidth = {0.01 * m_wprime}",
            "Higgs:useBSM = on",
            f"37:m0 = {m_x}",
            "37:doForceWidth = on",
            "37:mWidth = 1.0",
            f"37:mMin = {max(m_x - 20.0, 1.0)}",
            f"37:mMax = {m_x + 20.0}",
            "37:onMode = off",
            "37:onIfMatch = 2 -1",
            f"35:m0 = {m_y}",
            "35:doForceWidth = on",
            "35:mWidth = 1.0",
            f"35:mMin = {max(m_y - 20.0, 1.0)}",
            f"35:mMax = {m_y + 20.0}",
            "35:onMode = off",
            "35:onIfMatch = 1 -1",
        ]
    raise ConfigError(f"unknown LHCO process {process!r}; use 'qcd' or 'signal'")


def make_pythia(settings: list[str], seed: int) -> Any:
    """An initialised, quiet ``pythia8mc.Pythia`` with ``settings`` and a fixed seed."""
    try:
        import pythia8mc
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise DependencyError("event generation needs pythia8mc: pip install 'pythia8mc==8.317.2'") from exc
    if not 0 <= seed < 900_000_000:
        raise ConfigError(f"seed must be in [0, 900000000) for Pythia, got {seed}")
    pythia = pythia8mc.Pythia("", False)
    # Random:seed = 0 would mean "from the clock" in Pythia: shift by one
    for line in [*QUIET, *settings, "Random:setSeed = on", f"Random:seed = {seed + 1}"]:
        if not pythia.readString(line):
            raise ConfigError(f"Pythia rejected the setting {line!r}")
    if not pythia.init():
        raise ConfigError(f"Pythia failed to initialise with settings {settings}")
    return pythia


def visible_particles(events: ak.Array, acceptance: Acceptance, rng: np.random.Generator) -> ak.Array:
    """Massless visible final-state particles within ``acceptance`` (records pt, eta, phi, mass)."""
    import vector

    vector.register_awkward()
    prt = events.prt
    p = ak.with_name(prt.p, "Momentum4D")
    abs_id = np.abs(prt.id)
    final = (prt.status > 0) & (abs_id != 12) & (abs_id != 14) & (abs_id != 16)
    pt, eta, phi, energy = p.pt, p.eta, p.phi, p.E
    if acceptance.smear:
        counts = ak.num(pt)
        e_flat = ak.to_numpy(ak.flatten(energy))
        sigma = np.sqrt(0.5**2 / np.clip(e_flat, 1e-9, None) + 0.05**2)
        factor = np.clip(1.0 + sigma * rng.standard_normal(len(e_flat)), 0.0, None)
        pt = pt * ak.unflatten(factor, counts)
    keep = final & (np.abs(eta) < acceptance.eta_max) & (pt > acceptance.pt_min)
    return ak.zip(
        {"pt": pt[keep], "eta": eta[keep], "phi": phi[keep], "mass": ak.zeros_like(pt[keep])},
        with_name="Momentum4D",
    )


def pass_trigger(
    particles: ak.Array, *, pt_min: float = 1200.0, eta_max: float = 2.5, radius: float = 1.0
) -> np.ndarray:
    """LHCO selection: at least one anti-kT R = 1.0 jet with |η| < 2.5 and pT > 1.2 TeV."""
    jets, _ = cluster_leading_jets(particles, radius=radius, n_jets=1_000_000)
    good = (jets.pt > pt_min) & (np.abs(jets.eta) < eta_max)
    return ak.to_numpy(ak.any(good, axis=1))


def generate_lhco(
    path: str | os.PathLike[str],
    process: Literal["qcd", "signal"],
    n_events: int,
    seed: int,
    *,
    acceptance: Acceptance | None = None,
    batch_size: int = 200,
    progress: Callable[[int], None] | None = None,
    **masses: float,
) -> LHCOGenerationResult:
    """Generate ``n_events`` selected events and write them in the LHCO R&D layout (label column:
    0 for ``qcd``, 1 for ``signal``), atomically.

    Parameters
    ----------
    path : path
        Output ``.h5`` file.
    process : {"qcd", "signal"}
    n_events : int
        Events written (after the selection).
    seed : int
        Pythia and smearing seed.
    acceptance : Acceptance, optional
    batch_size : int
        Events per ``Pythia.nextBatch`` call.
    progress : callable, optional
        Called with the number of events written so far after every batch.
    **masses
        ``pthat_min``, ``m_wprime``, ``m_x``, ``m_y`` (GeV), see :func:`lhco_settings`.
    """
    if n_events < 1:
        raise ConfigError(f"n_events must be >= 1, got {n_events}")
    acceptance = acceptance or Acceptance()
    settings = lhco_settings(process, **masses)
    pythia = make_pythia(settings, seed)
    rng = np.random.default_rng(seed)
    label = 1 if process == "signal" else 0
    n_written = n_generated = n_passed = 0
    with LHCOWriter(path, n_events, with_label=True) as writer:
        while n_written < n_events:
            events = pythia.nextBatch(batch_size)
            n_generated += len(events)
            particles = visible_particles(events, acceptance, rng)
            passed = particles[pass_trigger(particles)]
            n_passed += len(passed)
            selected = passed[: n_events - n_written]
            if len(selected):
                block = pad_particles(selected.pt, selected.eta, selected.phi)
                writer.write(block, np.full(len(block), label))
                n_written += len(block)
            if progress is not None:
                progress(n_written)
    sigma = float(pythia.infoPython().sigmaGen())
    log.info(
        "%s: %d %s events written from %d generated (efficiency %.3g, sigma %.4g mb)",
        path,
        n_written,
        process,
        n_generated,
        n_passed / max(n_generated, 1),
        sigma,
    )
    return LHCOGenerationResult(Path(path), n_written, n_generated, n_passed, sigma, settings)
