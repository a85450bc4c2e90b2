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


def auc_bootstrap(
    background: ArrayLike, signal: ArrayLike, *, n_bootstrap: int = 200, seed: int = 0
) -> dict[str, float | list[float]]:
    """AUC with bootstrap 68% and 95% intervals (both classes resampled with replacement).

    Returns
    -------
    dict
        ``auc`` (on the full sample), ``ci68`` and ``ci95`` as ``[low, high]`` percentiles of
        the bootstrap distribution (equal to ``[auc, auc]`` when ``n_bootstrap`` is 0).
    """
    b = _check("background", background)
    s = _check("signal", signal)
    value = auc_from_scores(b, s)
    if n_bootstrap <= 0:
        return {"auc": value, "ci68": [value, value], "ci95": [value, value]}
    rng = np.random.default_rng(seed)
    draws = np.array(
        [auc_from_scores(rng.choice(b, b.size), rng.choice(s, s.size)) for _ in range(n_bootstrap)]
    )
    return {
        "auc": value,
        "ci68": np.percentile(draws, [16, 84]).tolist(),
        "ci95": np.percentile(draws, [2.5, 97.5]).tolist(),
    }


def min_background_count(max_relative_error: float) -> float:
    """Background events needed for ε_B to have relative statistical error ≤ ``max_relative_error``.

    The relative error of a count N is 1/√N, so N ≥ 1/max_relative_error² (25 for 20%).
    """
    return 1.0 / max_relative_error**2


def rejection_at_signal_efficiency(eps_s: np.ndarray, eps_b: np.ndarray, target: float) -> float:
    """Background rejection 1/ε_B at the first threshold reaching ε_S ≥ ``target``.

    Conservative for step-wise ROC curves (no interpolation past a tie). ``inf`` when no
    background passes that threshold.
    """
    idx = int(np.searchsorted(eps_s, target, side="left"))
    idx = min(idx, len(eps_s) - 1)
    eb = eps_b[idx]
    return float(np.inf) if eb == 0 else float(1.0 / eb)


def signal_efficiency_at_background(
    eps_s: np.ndarray, eps_b: np.ndarray, target: float, n_background: int, max_relative_error: float = 0.2
) -> float | None:
    """ε_S at the last threshold with ε_B ≤ ``target``; None when the background sample is too
    small for ε_B = ``target`` to be measured with relative error ≤ ``max_relative_error``."""
    if n_background * target < min_background_count(max_relative_error):
        return None
    idx = int(np.searchsorted(eps_b, target, side="right")) - 1
    return float(eps_s[max(idx, 0)])


def sic_curve(
    eps_s: np.ndarray, eps_b: np.ndarray, n_background: int, max_relative_error: float = 0.2
) -> tuple[np.ndarray, np.ndarray]:
    """Significance improvement ε_S/√ε_B versus ε_S, dropping unreliable points.

    Points where fewer than 1/max_relative_error² background events pass (25 for 20%) are
    removed: there √ε_B is dominated by statistical noise and the SIC blows up artificially.

    Returns
    -------
    eps_s, sic : ndarray
        Retained points (possibly empty).
    """
    keep = eps_b * n_background >= min_background_count(max_relative_error)
    return eps_s[keep], eps_s[keep] / np.sqrt(eps_b[keep])
