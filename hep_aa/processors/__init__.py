"""coffea integration: an anomaly-score processor for existing analyses (only place importing coffea)."""

from __future__ import annotations

from hep_aa.processors.vh import AnomalyScoreProcessor, LazyScorer, nanoevents_to_model

__all__ = ["AnomalyScoreProcessor", "LazyScorer", "nanoevents_to_model"]
