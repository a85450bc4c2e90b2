"""Metrics of one score table per anomaly type (seen/unseen), and their aggregation over seeds.

A score table (written by ``hep-aa score``) holds one score per event, the label and the
anomaly type; its metadata names the method, the seed and the anomaly types seen in
training. :func:`type_metrics` computes, for every anomaly type against the background:

- AUC with bootstrap 68%/95% intervals;
- background rejection 1/ε_B at ε_S = 0.2, 0.5, 0.8 (configurable);
- ε_S at ε_B = 1e-2, 1e-3 where the background sample allows (else ``None``);
- max SIC over points with enough background (relative error of ε_B ≤ 20%).

:func:`aggregate_seeds` turns per-seed values into median and 68% band (16th–84th percentile).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hep_aa.exceptions import MetricError
from hep_aa.metrics.roc import (
    auc_bootstrap,
    rejection_at_signal_efficiency,
    roc_curve,
    sic_curve,
    signal_efficiency_at_background,
)

__all__ = ["aggregate_seeds", "type_metrics"]


def type_metrics(
    scores: np.ndarray,
    labels: np.ndarray,
    types: np.ndarray,
    *,
    seen_types: Sequence[str] = (),
    signal_efficiencies: Sequence[float] = (0.2, 0.5, 0.8),
    background_efficiencies: Sequence[float] = (1e-2, 1e-3),
    n_bootstrap: int = 200,
    max_relative_error: float = 0.2,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """Metrics of every anomaly type present among the label-1 events.

    Parameters
    ----------
    scores, labels, types : ndarray of shape (n_events,)
        Score (higher = more anomalous), label (1 = anomaly) and anomaly type of each event.
    seen_types : sequence of str
        Types used in training ("seen"); the others are "unseen".

    Raises
    ------
    MetricError
        If there is no background or no anomaly at all.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    types = np.asarray(types, dtype=object)
    bkg = scores[labels == 0]
    if bkg.size == 0:
        raise MetricError("no background (label 0) events in the score table; metrics need both classes")
    anomaly_types = sorted({str(t) for t in types[labels == 1]})
    if not anomaly_types:
        raise MetricError("no anomaly (label 1) events in the score table; metrics need both classes")
    out: dict[str, dict[str, Any]] = {}
    for kind in anomaly_types:
        sig = scores[(labels == 1) & (types == kind)]
        eps_s, eps_b, _ = roc_curve(bkg, sig)
        boot = auc_bootstrap(bkg, sig, n_bootstrap=n_bootstrap, seed=seed)
        s_sic, sic = sic_curve(eps_s, eps_b, bkg.size, max_relative_error)
        out[kind] = {
            "seen": kind in set(seen_types),
            "n_anomaly": int(sig.size),
            "n_background": int(bkg.size),
            **boot,
            "rejection": {
                f"{e:g}": rejection_at_signal_efficiency(eps_s, eps_b, e) for e in signal_efficiencies
            },
            "signal_efficiency": {
                f"{e:g}": signal_efficiency_at_background(eps_s, eps_b, e, bkg.size, max_relative_error)
                for e in background_efficiencies
            },
            "max_sic": float(sic.max()) if sic.size else None,
            "max_sic_signal_efficiency": float(s_sic[np.argmax(sic)]) if sic.size else None,
        }
    return out


def _band(values: list[float]) -> dict[str, Any]:
    finite = np.array([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
    if finite.size == 0:
        return {"median": None, "band68": [None, None], "n_seeds": 0}
    lo, med, hi = np.percentile(finite, [16, 50, 84])
    return {"median": float(med), "band68": [float(lo), float(hi)], "n_seeds": int(finite.size)}


def aggregate_seeds(per_seed: Mapping[Any, Mapping[str, Mapping[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Median and 68% band over seeds of AUC, rejections, efficiencies and max SIC, per type."""
    out: dict[str, dict[str, Any]] = {}
    kinds = sorted({k for metrics in per_seed.values() for k in metrics})
    for kind in kinds:
        runs = [m[kind] for m in per_seed.values() if kind in m]
        summary: dict[str, Any] = {"seen": any(r["seen"] for r in runs)}
        summary["auc"] = _band([r["auc"] for r in runs])
        summary["max_sic"] = _band([r["max_sic"] for r in runs])
        summary["rejection"] = {e: _band([r["rejection"][e] for r in runs]) for e in runs[0]["rejection"]}
        summary["signal_efficiency"] = {
            e: _band([r["signal_efficiency"][e] for r in runs]) for e in runs[0]["signal_efficiency"]
        }
        out[kind] = summary
    return out
