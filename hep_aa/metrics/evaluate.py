"""Metrics of one score table per anomaly type (seen/unseen), and their aggregation over seeds.

A score table (written by ``hep-aa score``) holds one score per event, the label and the
anomaly type; its metadata names the method, the seed and the anomaly types seen in
training. :func:`type_metrics` computes, for every anomaly type against the background:

- AUC with bootstrap 68%/95% intervals;
- background rejection 1/ε_B at ε_S = 0.2, 0.5, 0.8 (configurable);
- ε_S at ε_B = 1e-2, 1e-3 where the background sample allows (else ``None``);
- max SIC over points with enough background (relative error of ε_B ≤ 20%).

With per-event ``weights`` (a feature table's ``weight`` column; negative allowed) every
efficiency is a weighted fraction, the bootstrap resamples events with their weights, and the
statistical guards count effective events (Σw)²/Σw² (see :mod:`hep_aa.metrics.roc`).

:func:`aggregate_seeds` turns per-seed values into median and 68% band (16th–84th percentile).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hep_aa.exceptions import MetricError
from hep_aa.metrics.roc import (
    auc_bootstrap,
    effective_count,
    passing_effective_count,
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
    weights: np.ndarray | None = None,
) -> dict[str, dict[str, Any]]:
    """Metrics of every anomaly type present among the label-1 events.

    Parameters
    ----------
    scores, labels, types : ndarray of shape (n_events,)
        Score (higher = more anomalous), label (1 = anomaly) and anomaly type of each event.
    seen_types : sequence of str
        Types used in training ("seen"); the others are "unseen".
    weights : ndarray of shape (n_events,), optional
        Per-event weights (any sign; each class's total must be positive). The result then
        also holds ``weighted: true``, the sums of weights and the effective numbers of events
        (Σw)²/Σw²; without weights ``weighted`` is false.

    Raises
    ------
    MetricError
        If there is no background or no anomaly at all, or the weights are unusable (wrong
        length, NaN/Inf, a class of total weight ≤ 0).
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    types = np.asarray(types, dtype=object)
    weighted = weights is not None
    w = np.ones(scores.size)
    if weighted:
        w = np.asarray(weights, dtype=np.float64).ravel()
        if w.shape != scores.shape or not np.all(np.isfinite(w)):
            raise MetricError(
                f"event weights must be {scores.size} finite numbers (one per score), got shape "
                f"{w.shape} with {int(np.count_nonzero(~np.isfinite(w)))} NaN/Inf; fix the weight column"
            )
    bkg = scores[labels == 0]
    wb = w[labels == 0]
    if bkg.size == 0:
        raise MetricError("no background (label 0) events in the score table; metrics need both classes")
    anomaly_types = sorted({str(t) for t in types[labels == 1]})
    if not anomaly_types:
        raise MetricError("no anomaly (label 1) events in the score table; metrics need both classes")
    out: dict[str, dict[str, Any]] = {}
    for kind in anomaly_types:
        in_kind = (labels == 1) & (types == kind)
        sig, ws = scores[in_kind], w[in_kind]
        kw = {"background_weights": wb, "signal_weights": ws} if weighted else {}
        try:
            eps_s, eps_b, thresholds = roc_curve(bkg, sig, **kw)
            boot = auc_bootstrap(bkg, sig, n_bootstrap=n_bootstrap, seed=seed, **kw)
        except MetricError as exc:  # name the anomaly type ("signal" is one of several)
            raise MetricError(f"anomaly type {kind!r} against the background: {exc}") from None
        n_eff_b = effective_count(wb) if weighted else bkg.size
        passing = passing_effective_count(bkg, thresholds, wb if weighted else None)
        s_sic, sic = sic_curve(eps_s, eps_b, passing, max_relative_error)
        out[kind] = {
            "seen": kind in set(seen_types),
            "n_anomaly": int(sig.size),
            "n_background": int(bkg.size),
            "weighted": weighted,
            **(
                {
                    "sum_weights_anomaly": float(ws.sum()),
                    "sum_weights_background": float(wb.sum()),
                    "n_effective_anomaly": effective_count(ws),
                    "n_effective_background": n_eff_b,
                }
                if weighted
                else {}
            ),
            **boot,
            "rejection": {
                f"{e:g}": rejection_at_signal_efficiency(eps_s, eps_b, e) for e in signal_efficiencies
            },
            "signal_efficiency": {
                f"{e:g}": signal_efficiency_at_background(eps_s, eps_b, e, n_eff_b, max_relative_error)
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
