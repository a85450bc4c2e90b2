"""coffea integration (the only package importing coffea).

- :func:`score_events`: anomaly scores of NanoEvents, aligned with them (None = not scorable),
  for a user's own ``process()``; eager or dask.
- :class:`AnomalyScoreProcessor`: a ready processor built on it (weights with variations on a
  ``systematic`` axis, weighted cutflow, score binning from the model's training scores).
- :class:`~hep_aa.processors.example.ZhAnalysisExample`: a documented example processor that
  composes ``score_events`` with its own cuts and a ±5 % weight systematic.
"""

from __future__ import annotations

from hep_aa.processors.scoring import (
    LazyScorer,
    Scorer,
    check_model,
    event_model,
    score_events,
    score_features,
    vh_event_features,
)
from hep_aa.processors.vh import AnomalyScoreProcessor

nanoevents_to_model = event_model  # earlier name

__all__ = [
    "AnomalyScoreProcessor",
    "LazyScorer",
    "Scorer",
    "check_model",
    "event_model",
    "nanoevents_to_model",
    "score_events",
    "score_features",
    "vh_event_features",
]
