"""Performance metrics of anomaly scores: ROC, AUC, SIC, working points (NumPy only)."""

from __future__ import annotations

from hep_aa.metrics.roc import auc_from_scores, roc_curve

__all__ = ["auc_from_scores", "roc_curve"]
