"""Performance metrics of anomaly scores: ROC, AUC, SIC, working points (NumPy only)."""

from __future__ import annotations

from hep_aa.metrics.evaluate import aggregate_seeds, type_metrics
from hep_aa.metrics.roc import (
    auc_bootstrap,
    auc_from_scores,
    min_background_count,
    rejection_at_signal_efficiency,
    roc_curve,
    sic_curve,
    signal_efficiency_at_background,
)

__all__ = [
    "aggregate_seeds",
    "auc_bootstrap",
    "auc_from_scores",
    "min_background_count",
    "rejection_at_signal_efficiency",
    "roc_curve",
    "sic_curve",
    "signal_efficiency_at_background",
    "type_metrics",
]
