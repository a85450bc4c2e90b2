"""ROC curve and AUC of an anomaly score (higher = more anomalous).

Conventions: background efficiency ε_B and signal (anomaly) efficiency ε_S are the fractions
of each class with ``score >= threshold``. Tied scores are never split: a threshold keeps
all events with that score or none, and the AUC counts a tied (background, signal) pair as
one half (Mann–Whitney U with mid-ranks).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from hep_aa.exceptions import MetricError

__all__ = ["auc_from_scores", "roc_curve"]


def _check(name: str, values: ArrayLike) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0:
        raise MetricError(f"{name} scores are empty: the class has no events, so its efficiency is undefined")
    if not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise MetricError(f"{name} scores contain {bad} NaN/Inf value(s); fix or drop those events first")
    return arr


def _check_weights(name: str, weights: ArrayLike | None, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=np.float64).ravel()
    if w.shape != (n,):
        raise MetricError(f"{name} weights have shape {w.shape}, expected ({n},)")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise MetricError(f"{name} weights must be finite, non-negative and not all zero")
    return w


def roc_curve(
    background: ArrayLike,
    signal: ArrayLike,
    *,
    background_weights: ArrayLike | None = None,
    signal_weights: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Efficiencies at every distinct score threshold.

    Parameters
    ----------
    background, signal : array_like of shape (n_bkg,), (n_sig,)
        Anomaly scores of each class.
    background_weights, signal_weights : array_like, optional
        Event weights (default 1).

    Returns
    -------
    eps_s, eps_b : ndarray of shape (n_thresholds + 1,)
        Signal and background efficiencies for ``score >= threshold``, starting at (0, 0)
        and ending at (1, 1); ε_B is non-decreasing.
    thresholds : ndarray of shape (n_thresholds + 1,)
        Descending distinct scores, with +inf first.

    Raises
    ------
    MetricError
        If a class is empty or has NaN/Inf scores.
    """
    b = _check("background", background)
    s = _check("signal", signal)
    wb = _check_weights("background", background_weights, b.size)
    ws = _check_weights("signal", signal_weights, s.size)
    scores = np.concatenate([b, s])
    is_sig = np.concatenate([np.zeros(b.size, bool), np.ones(s.size, bool)])
    w = np.concatenate([wb, ws])
    order = np.argsort(-scores, kind="mergesort")
    scores, is_sig, w = scores[order], is_sig[order], w[order]
    last_of_tie = np.r_[np.diff(scores) != 0, True]
    cum_s = np.cumsum(np.where(is_sig, w, 0.0))[last_of_tie]
    cum_b = np.cumsum(np.where(is_sig, 0.0, w))[last_of_tie]
    eps_s = np.r_[0.0, cum_s / ws.sum()]
    eps_b = np.r_[0.0, cum_b / wb.sum()]
    thresholds = np.r_[np.inf, scores[last_of_tie]]
    return eps_s, eps_b, thresholds


def auc_from_scores(
    background: ArrayLike,
    signal: ArrayLike,
    *,
    background_weights: ArrayLike | None = None,
    signal_weights: ArrayLike | None = None,
) -> float:
    """Area under the ROC curve: P(score_sig > score_bkg) + ½·P(tie).

    Computed as the trapezoidal area under (ε_B, ε_S), which equals the Mann–Whitney
    statistic with ties counted one half.

    Examples
    --------
    >>> auc_from_scores([0.1, 0.4], [0.35, 0.8])
    0.75
    >>> auc_from_scores([1.0, 1.0], [1.0])
    0.5
    """
    eps_s, eps_b, _ = roc_curve(
        background, signal, background_weights=background_weights, signal_weights=signal_weights
    )
    return float(np.sum(np.diff(eps_b) * (eps_s[1:] + eps_s[:-1]) / 2.0))
