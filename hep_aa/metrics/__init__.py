"""Performance metrics of anomaly scores: ROC, AUC, SIC, working points (NumPy only).

Every metric takes optional per-event weights (negative allowed, as in scikit-learn's
``sample_weight``); see :mod:`hep_aa.metrics.roc`.
"""

from __future__ import annotations

from hep_aa.metrics.evaluate import aggregate_seeds, type_metrics
from hep_aa.metrics.roc import (
    auc_bootstrap,
    auc_from_scores,
    effective_count,
    min_background_count,
    passing_effective_count,
    rejection_at_signal_efficiency,
    roc_curve,
    sic_curve,
    signal_efficiency_at_background,
)

__all__ = [
    "aggregate_seeds",
    "auc_bootstrap",
    "auc_from_scores",
    "effective_count",
    "min_background_count",
    "passing_effective_count",
    "rejection_at_signal_efficiency",
    "roc_curve",
    "sic_curve",
    "signal_efficiency_at_background",
    "type_metrics",
]
