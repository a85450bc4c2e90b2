"""LHCO2020-like events with Pythia 8 (pythia8mc) and a Delphes-CMS-like detector, written in
the LHCO R&D HDF5 layout.

Generator settings of the R&D sample (Pythia 8 + Delphes 3.4.1, CMS card, arXiv:2101.08320):
√s = 13 TeV, Pythia's default tune with **multiparton interactions off** (``PartonLevel:MPI =
off``) and **no pile-up**; ISR/FSR, hadronisation and decays on.

- ``qcd``: QCD dijets, ``HardQCD:all``, one unweighted slice with ``PhaseSpace:pTHatMin`` =
  1100 GeV by default. This is *not* unbiased: 750 GeV is (it agrees with 600 GeV after the
  1.2 TeV trigger, ``benchmarks/lhco_generator_check.py``), but the real R&D file is harder than
  an unbiased sample (leading-jet pT KS p = 3e-5, mjj 1e-5 against 750 GeV) and agrees with
  1100 GeV (p = 0.37, 0.11; 1000 GeV: 0.02, 0.01; 1200 GeV: 2e-6, 1e-3), i.e. it was
  generated with a cut of about that size. Pass ``pthat_min=750`` for an unbiased sample.
- ``signal``: W′ → X Y, X → q q̄′, Y → q q̄ (default m = 3500 / 500 / 100 GeV). Pythia's spare
  BSM states are reused: W′ = 34 (``NewGaugeBoson:ffbar2Wprime``, decay forced to 37 35),
  X = 37 (H±, forced to u d̄), Y = 35 (H⁰, forced to d d̄). W′ width: Pythia's own width of a
  sequential-SM W′ at that mass (3.6 %), line shape cut to [0.7, 1.3] × m_W′; X and Y narrow
  (1 GeV, ±20 GeV). Pythia decays 34 → 37 35 and then X, Y → q q̄ isotropically; a spin-1 W′
  decaying to two longitudinal (helicity-0) vector bosons, each to q q̄, has
  dN/dcos θ ∝ sin² θ at each of the three decays. :func:`spin1_accept` restores this by
  accept-reject (about 30 % of the events are kept). Against the real file this is what makes
  the fat jets right: both jets in the X and Y mass windows 75.6 % (real 77.4 %) instead of
  64 % with isotropic X, Y decays, both jets below 150 GeV 3.0 % (real 1.1 %) instead of 9 %.
  Pythia's cross section of this hand-made decay table is meaningless: none is reported.

Detector (default ``detector="cms"``): :mod:`hep_aa.generate.fastsim`, the Delphes CMS card;
the written "hadrons" are its EFlow objects (tracks, photons, neutral hadrons) with |η| < 5,
as in the R&D file. ``detector="none"`` writes the visible truth particles within
:class:`Acceptance` instead. Both are massless (pT, η, φ), at most 700 (the hardest) per event.
Selection as in the LHCO sample: ≥ 1 anti-kT R = 1.0 jet with |η| < 2.5 and pT > 1.2 TeV.
``n_events`` counts events written (after selection). A selection too rare to fill the file
(e.g. a light W′) ends with a :class:`~hep_aa.exceptions.ConfigError` instead of running on.

Different seeds give independent samples; the same seed reproduces the file exactly.
"""

from __future__ import annotations

import logging
import os
import time
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
    "final_state",
    "generate_lhco",
    "lhco_settings",
    "make_pythia",
    "pass_trigger",
    "reconstruct",
    "spin1_accept",
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
DETECTORS = ("cms", "none")
#: relative W′ width: Pythia's sequential-SM W′ width at 3.5 TeV (125.8 GeV, all channels)
WPRIME_WIDTH = 125.8 / 3500.0
#: events generated before a selection with no accepted event is declared hopeless
MIN_TRIALS = 2_000


@dataclass(frozen=True)
class Acceptance:
    """Truth-level acceptance of ``detector="none"`` (the R&D file's |η| < 5, pT ≥ 0.1 GeV)."""

    eta_max: float = 5.0
    pt_min: float = 0.1


@dataclass
class LHCOGenerationResult:
    """What a generation run did.

    ``sigma_mb`` is Pythia's generated cross section of the QCD slice (``None`` for the signal,
    whose decay table is hand-made); ``n_generated`` counts every Pythia event, ``n_passed``
    those passing the selection (also beyond ``n_written`` in the last batch).
    """

    path: Path
    n_written: int
    n_generated: int
    n_passed: int
    sigma_mb: float | None
    settings: list[str] = field(default_factory=list)
    detector: str = "cms"

    @property
    def efficiency(self) -> float:
        """Fraction of generated events passing the selection (for the signal including the
        helicity accept-reject)."""
        return self.n_passed / self.n_generated if self.n_generated else 0.0

    @property
    def sigma_selected_pb(self) -> float | None:
        """Cross section after the selection [pb] (QCD only)."""
        return None if self.sigma_mb is None else self.sigma_mb * 1e9 * self.efficiency


def lhco_settings(
    process: Literal["qcd", "signal"],
    *,
    pthat_min: float = 1100.0,
    m_wprime: float = 3500.0,
    m_x: float = 500.0,
    m_y: float = 100.0,
    sqrt_s: float = 13000.0,
    wprime_width: float = WPRIME_WIDTH,
) -> list[str]:
    """Pythia settings strings of a process (see the module docstring)."""
    common = [f"Beams:eCM = {sqrt_s}", "PartonLevel:MPI = off"]
    if process == "qcd":
        return [*common, "HardQCD:all = on", f"PhaseSpace:pTHatMin = {pthat_min}"]
    if process == "signal":
        if m_x <= 0 or m_y <= 0 or m_x + m_y >= m_wprime:
            raise ConfigError(
                f"signal masses must satisfy m_X + m_Y < m_W' (got {m_x} + {m_y} vs {m_wprime})"
            )
        if not 0 < wprime_width < 0.5:
            raise ConfigError(f"wprime_width is relative to m_W' and must be in (0, 0.5), got {wprime_width}")
        return [
            *common,
            "NewGaugeBoson:ffbar2Wprime = on",
            f"34:m0 = {m_wprime}",
            f"34:mMin = {max(0.7 * m_wprime, m_x + m_y + 1.0)}",
            f"34:mMax = {1.3 * m_wprime}",
            "34:onMode = off",
            "34:addChannel = 1 1.0 100 37 35",
            "34:doForceWidth = on",
            f"34:mWidth = {wprime_width * m_wprime:.6g}",
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


def _vector() -> None:
    import vector

    vector.register_awkward()


def final_state(events: ak.Array, particle_data: Any) -> ak.Array:
    """Stable final-state particles without neutrinos: records ``px, py, pz, E, pid, charge``.

    ``particle_data`` is ``pythia.particleData`` (charges are looked up once per PDG id).
    """
    prt = events.prt
    abs_id = np.abs(prt.id)
    keep = (prt.status > 0) & (abs_id != 12) & (abs_id != 14) & (abs_id != 16)
    sel = prt[keep]
    pid = sel.id
    flat = ak.to_numpy(ak.flatten(pid)).astype(np.int64)
    ids, inverse = np.unique(flat, return_inverse=True)
    charge = np.array([particle_data.charge(int(i)) for i in ids], dtype=np.float64)[inverse]
    counts = ak.num(pid, axis=1)
    p = sel.p
    return ak.zip(
        {"px": p.px, "py": p.py, "pz": p.pz, "E": p.e, "pid": pid, "charge": ak.unflatten(charge, counts)}
    )


def _helicity_cos(prt: ak.Array, pid: int, frame: ak.Array) -> np.ndarray:
    """cos θ of the first decay product of the last copy of ``pid`` in that particle's rest
    frame, relative to its flight direction in ``frame`` (Momentum4D per event)."""
    idx = ak.local_index(prt.id)
    last = ak.max(idx[np.abs(prt.id) == pid], axis=1)
    mother = ak.firsts(prt[idx == last])
    child = ak.firsts(prt[idx == mother.daughter1])
    m4 = ak.zip(
        {"px": mother.p.px, "py": mother.p.py, "pz": mother.p.pz, "E": mother.p.e}, with_name="Momentum4D"
    )
    c4 = ak.zip(
        {"px": child.p.px, "py": child.p.py, "pz": child.p.pz, "E": child.p.e}, with_name="Momentum4D"
    )
    m_f, c_f = m4.boostCM_of_p4(frame), c4.boostCM_of_p4(frame)
    c_rest = c_f.boostCM_of_p4(m_f)
    cos = (c_rest.px * m_f.px + c_rest.py * m_f.py + c_rest.pz * m_f.pz) / (c_rest.p * m_f.p)
    return ak.to_numpy(cos)


def spin1_accept(events: ak.Array, rng: np.random.Generator) -> np.ndarray:
    """Accept-reject mask for the helicity structure of a spin-1 W′ → X Y with longitudinal
    (helicity-0) X and Y, each decaying to q q̄: weight sin² θ* · sin² θ_X · sin² θ_Y.

    θ* is the angle between X (37) and the beam axis in the X+Y rest frame (first,
    hard-process copies); θ_X (θ_Y) the angle of X's (Y's) first decay product in the X (Y)
    rest frame with respect to the X (Y) direction. Pythia generates all three isotropically.
    """
    _vector()
    prt = events.prt
    x = ak.firsts(prt[np.abs(prt.id) == 37].p)
    y = ak.firsts(prt[np.abs(prt.id) == 35].p)
    if ak.any(ak.is_none(x)) or ak.any(ak.is_none(y)):
        raise ConfigError("signal event without its X (37) or Y (35): check the W' decay settings")
    x4 = ak.zip({"px": x.px, "py": x.py, "pz": x.pz, "E": x.e}, with_name="Momentum4D")
    y4 = ak.zip({"px": y.px, "py": y.py, "pz": y.pz, "E": y.e}, with_name="Momentum4D")
    frame = x4 + y4
    xr = x4.boostCM_of_p4(frame)
    cos = ak.to_numpy(xr.pz / xr.p)
    weight = (
        (1.0 - cos**2)
        * (1.0 - _helicity_cos(prt, 37, frame) ** 2)
        * (1.0 - _helicity_cos(prt, 35, frame) ** 2)
    )
    return rng.random(len(cos)) < weight


def reconstruct(
    particles: ak.Array, detector: str, rng: np.random.Generator, acceptance: Acceptance | None = None
) -> ak.Array:
    """Massless "hadrons" of the LHCO layout (Momentum4D ``pt, eta, phi, mass``) from
    :func:`final_state` particles: the EFlow objects of the CMS-like detector with |η| < 5, or
    (``detector="none"``) the truth particles within ``acceptance``."""
    _vector()
    if detector == "cms":
        from hep_aa.generate.fastsim import simulate

        eflow = simulate(particles, rng).eflow
        keep = np.abs(eflow.eta) < 5.0
        pt, eta, phi = eflow.pt[keep], eflow.eta[keep], eflow.phi[keep]
    elif detector == "none":
        acceptance = acceptance or Acceptance()
        p = ak.zip(
            {"px": particles.px, "py": particles.py, "pz": particles.pz, "E": particles.E},
            with_name="Momentum4D",
        )
        keep = (np.abs(p.eta) < acceptance.eta_max) & (p.pt >= acceptance.pt_min)
        pt, eta, phi = p.pt[keep], p.eta[keep], p.phi[keep]
    else:
        raise ConfigError(f"unknown detector {detector!r}; use one of {', '.join(DETECTORS)}")
    return ak.zip({"pt": pt, "eta": eta, "phi": phi, "mass": ak.zeros_like(pt)}, with_name="Momentum4D")


def pass_trigger(
    particles: ak.Array, *, pt_min: float = 1200.0, eta_max: float = 2.5, radius: float = 1.0
) -> np.ndarray:
    """LHCO selection: at least one anti-kT R = 1.0 jet with |η| < 2.5 and pT > 1.2 TeV."""
    jets, _ = cluster_leading_jets(particles, radius=radius, n_jets=1_000_000)
    good = (jets.pt > pt_min) & (np.abs(jets.eta) < eta_max)
    return ak.to_numpy(ak.any(good, axis=1))


class ProgressLog:
    """Logs ``done/total``, rate and ETA through :mod:`logging` at most every ``every`` seconds."""

    def __init__(self, what: str, total: int, *, every: float = 30.0, unit: str = "events") -> None:
        self.what, self.total, self.every, self.unit = what, total, every, unit
        self.start = self.last = time.monotonic()

    def __call__(self, done: int, extra: str = "") -> None:
        now = time.monotonic()
        if now - self.last < self.every or done >= self.total:
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        eta = (self.total - done) / rate if rate > 0 else float("inf")
        log.info(
            "%s: %d/%d %s (%.0f%%), %.3g %s/s, ETA %s%s",
            self.what,
            done,
            self.total,
            self.unit,
            100.0 * done / self.total,
            rate,
            self.unit,
            "unknown" if not np.isfinite(eta) else time.strftime("%H:%M:%S", time.gmtime(eta)),
            extra,
        )


def _check_acceptance(
    process: str, n_generated: int, n_passed: int, n_events: int, max_generated: int
) -> None:
    """Raise when the selection is too rare to ever fill the file."""
    if n_generated < MIN_TRIALS:
        return
    hint = (
        "a W' this light cannot produce such jets: raise --m-wprime (>= ~2.5 TeV)"
        if process == "signal"
        else "raise --pthat-min towards the trigger (750-1100 GeV)"
    )
    if n_passed == 0:
        raise ConfigError(
            f"acceptance too low: none of {n_generated} generated {process} events passes the LHCO "
            f"selection (an anti-kT R=1.0 jet with pT > 1.2 TeV, |eta| < 2.5); {hint}"
        )
    projected = n_generated * n_events / n_passed
    if projected > max_generated:
        raise ConfigError(
            f"acceptance too low: {n_passed} of {n_generated} generated {process} events pass the LHCO "
            f"selection (efficiency {n_passed / n_generated:.2g}); {n_events} events would need about "
            f"{projected:.3g} generated, above the limit of {max_generated} (max_generated); {hint}"
        )


def generate_lhco(
    path: str | os.PathLike[str],
    process: Literal["qcd", "signal"],
    n_events: int,
    seed: int,
    *,
    detector: str = "cms",
    acceptance: Acceptance | None = None,
    batch_size: int = 200,
    max_generated: int | None = None,
    progress: Callable[[int], None] | None = None,
    **settings: float,
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
        Pythia, detector and angular-acceptance seed.
    detector : {"cms", "none"}
        Delphes-CMS-like detector (EFlow objects) or truth particles.
    acceptance : Acceptance, optional
        Truth acceptance of ``detector="none"``.
    batch_size : int
        Events per ``Pythia.nextBatch`` call.
    max_generated : int, optional
        Give up (:class:`ConfigError`) when the measured efficiency projects more generated
        events than this; default ``max(200_000, 1000 * n_events)``.
    progress : callable, optional
        Called with the number of events written so far after every batch.
    **settings
        ``pthat_min``, ``m_wprime``, ``m_x``, ``m_y`` (GeV), ``wprime_width`` (relative), see
        :func:`lhco_settings`.
    """
    if n_events < 1:
        raise ConfigError(f"n_events must be >= 1, got {n_events}")
    if detector not in DETECTORS:
        raise ConfigError(f"unknown detector {detector!r}; use one of {', '.join(DETECTORS)}")
    max_generated = max_generated or max(200_000, 1000 * n_events)
    pythia_settings = lhco_settings(process, **settings)
    pythia = make_pythia(pythia_settings, seed)
    rng = np.random.default_rng(seed)
    label = 1 if process == "signal" else 0
    n_written = n_generated = n_passed = 0
    ticker = ProgressLog(f"{Path(path).name}: generating {process}", n_events)
    with LHCOWriter(path, n_events, with_label=True) as writer:
        while n_written < n_events:
            events = pythia.nextBatch(batch_size)
            n_generated += len(events)
            if process == "signal":
                events = events[spin1_accept(events, rng)]
            particles = reconstruct(final_state(events, pythia.particleData), detector, rng, acceptance)
            passed = particles[pass_trigger(particles)]
            n_passed += len(passed)
            selected = passed[: n_events - n_written]
            if len(selected):
                block = pad_particles(selected.pt, selected.eta, selected.phi)
                writer.write(block, np.full(len(block), label))
                n_written += len(block)
            if progress is not None:
                progress(n_written)
            ticker(n_written, f", selection efficiency {n_passed / n_generated:.3g}")
            if n_written < n_events:
                _check_acceptance(process, n_generated, n_passed, n_events, max_generated)
    sigma = float(pythia.infoPython().sigmaGen()) if process == "qcd" else None
    result = LHCOGenerationResult(
        Path(path), n_written, n_generated, n_passed, sigma, pythia_settings, detector
    )
    log.info(
        "%s: %d %s events written (detector %s) from %d generated, selection efficiency %.3g%s",
        path,
        n_written,
        process,
        detector,
        n_generated,
        result.efficiency,
        ""
        if sigma is None
        else f", sigma_gen {sigma * 1e9:.4g} pb, selected {result.sigma_selected_pb:.4g} pb",
    )
    return result
