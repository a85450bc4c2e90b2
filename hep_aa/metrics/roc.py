"""ROC curve and AUC of an anomaly score (higher = more anomalous), with per-event weights.

Conventions: background efficiency ε_B and signal (anomaly) efficiency ε_S are the weighted
fractions of each class with ``score >= threshold``. Tied scores are never split: a threshold
keeps all events with that score or none, and the AUC counts a tied (background, signal) pair
as one half (Mann–Whitney U with mid-ranks).

Event weights (e.g. a MadGraph NLO sample) may be negative, as in
``sklearn.metrics.roc_curve(sample_weight=...)``; the points of :func:`roc_curve` are those of
scikit-learn with ``drop_intermediate=False`` (zero-weight events are dropped, as scikit-learn
does). Only the total weight of each class must be positive. With negative weights the
efficiencies need not be monotonic along the thresholds (nor stay within [0, 1]); the working
points below are defined so that they reduce to the usual ones for a monotonic curve. The
statistical power of a weighted sample is its effective number of events
N_eff = (Σw)²/Σw² (N for unit weights), which is what the reliability guards use.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from hep_aa.exceptions import MetricError

__all__ = [
    "auc_bootstrap",
    "auc_from_scores",
    "effective_count",
    "min_background_count",
    "passing_effective_count",
    "rejection_at_signal_efficiency",
    "roc_curve",
    "sic_curve",
    "signal_efficiency_at_background",
]


def _check(name: str, values: ArrayLike) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0:
        raise MetricError(f"{name} scores are empty: the class has no events, so its efficiency is undefined")
    if not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise MetricError(f"{name} scores contain {bad} NaN/Inf value(s); fix or drop those events first")
    return arr


def _check_weights(name: str, weights: ArrayLike | None, n: int) -> np.ndarray:
    """Per-event weights of one class: finite, one per event, any sign, positive total."""
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=np.float64).ravel()
    if w.shape != (n,):
        raise MetricError(
            f"{name} weights have shape {w.shape} but there are {n} {name} scores; pass one weight per event"
        )
    if not np.all(np.isfinite(w)):
        bad = int(np.count_nonzero(~np.isfinite(w)))
        raise MetricError(f"{name} weights contain {bad} NaN/Inf value(s); fix or drop those events first")
    total = float(w.sum())
    if total <= 0:
        raise MetricError(
            f"total {name} weight is {total:.6g} (≤ 0; {int(np.count_nonzero(w < 0))} of {n} events have "
            f"negative weight): the {name} efficiency is undefined; check the weight column (sign, "
            "normalisation) or use a larger sample so the positive weights dominate"
        )
    return w


def effective_count(weights: ArrayLike | None, n: int | None = None) -> float:
    """Effective number of events N_eff = (Σw)²/Σw² of a weighted sample (``n`` for unit weights).

    A weighted sum W = Σw has variance Σw², so its relative error is 1/√N_eff, as for a count
    of N_eff unweighted events.
    """
    if weights is None:
        if n is None:
            raise ValueError("pass weights or n")
        return float(n)
    w = np.asarray(weights, dtype=np.float64).ravel()
    w2 = float(np.sum(w * w))
    return float(np.sum(w)) ** 2 / w2 if w2 > 0 else 0.0


def passing_effective_count(
    scores: ArrayLike, thresholds: ArrayLike, weights: ArrayLike | None = None
) -> np.ndarray:
    """Effective number of events (Σw)²/Σw² with ``score >= threshold``, for each threshold.

    For unit weights this is the number of events passing (ε·N).
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    w = np.ones(s.size) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    order = np.argsort(s, kind="mergesort")
    s, w = s[order], w[order]
    # suffix sums: events from index k upwards have score >= s[k]
    cw = np.r_[np.cumsum(w[::-1])[::-1], 0.0]
    cw2 = np.r_[np.cumsum((w * w)[::-1])[::-1], 0.0]
    k = np.searchsorted(s, np.asarray(thresholds, dtype=np.float64), side="left")
    sw, sw2 = cw[k], cw2[k]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sw2 > 0, sw * sw / np.where(sw2 > 0, sw2, 1.0), 0.0)


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
        Per-event weights (default 1). Negative weights are allowed; the total of each class
        must be positive. Events of zero weight are dropped (they set no threshold).

    Returns
    -------
    eps_s, eps_b : ndarray of shape (n_thresholds + 1,)
        Signal and background efficiencies for ``score >= threshold``, starting at (0, 0)
        and ending at (1, 1); ε_B is non-decreasing for non-negative weights. Equal to
        ``sklearn.metrics.roc_curve(y, score, sample_weight=w, drop_intermediate=False)``
        (tpr, fpr).
    thresholds : ndarray of shape (n_thresholds + 1,)
        Descending distinct scores, with +inf first.

    Raises
    ------
    MetricError
        If a class is empty, has NaN/Inf scores or weights, weights of the wrong length or a
        total weight ≤ 0.
    """
    b = _check("background", background)
    s = _check("signal", signal)
    wb = _check_weights("background", background_weights, b.size)
    ws = _check_weights("signal", signal_weights, s.size)
    scores = np.concatenate([b, s])
    is_sig = np.concatenate([np.zeros(b.size, bool), np.ones(s.size, bool)])
    w = np.concatenate([wb, ws])
    if background_weights is not None or signal_weights is not None:
        keep = w != 0
        scores, is_sig, w = scores[keep], is_sig[keep], w[keep]
    order = np.argsort(-scores, kind="mergesort")
    scores, is_sig, w = scores[order], is_sig[order], w[order]
    last_of_tie = np.r_[np.diff(scores) != 0, True]
    cum_s = np.cumsum(np.where(is_sig, w, 0.0))[last_of_tie]
    cum_b = np.cumsum(np.where(is_sig, 0.0, w))[last_of_tie]
    eps_s = np.r_[0.0, cum_s / cum_s[-1]]
    eps_b = np.r_[0.0, cum_b / cum_b[-1]]
    thresholds = np.r_[np.inf, scores[last_of_tie]]
    return eps_s, eps_b, thresholds


def _trapezoid(eps_s: np.ndarray, eps_b: np.ndarray) -> float:
    return float(np.sum(np.diff(eps_b) * (eps_s[1:] + eps_s[:-1]) / 2.0))


def auc_from_scores(
    background: ArrayLike,
    signal: ArrayLike,
    *,
    background_weights: ArrayLike | None = None,
    signal_weights: ArrayLike | None = None,
) -> float:
    """Area under the ROC curve: P(score_sig > score_bkg) + ½·P(tie), weighted.

    Computed as the trapezoidal area under (ε_B, ε_S), which equals the weighted Mann–Whitney
    statistic Σ_ij w_i w_j ([s_i > b_j] + ½[s_i = b_j]) / (Σw_i Σw_j) for weights of any
    sign (``sklearn.metrics.roc_auc_score`` agrees where it accepts the weights; it refuses a
    non-monotonic false-positive rate).

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
    return _trapezoid(eps_s, eps_b)


def auc_bootstrap(
    background: ArrayLike,
    signal: ArrayLike,
    *,
    background_weights: ArrayLike | None = None,
    signal_weights: ArrayLike | None = None,
    n_bootstrap: int = 200,
    seed: int = 0,
) -> dict[str, float | int | list[float]]:
    """AUC with bootstrap 68% and 95% intervals (both classes resampled with replacement).

    Events are resampled with their weights. With negative weights a resample can have a
    total class weight ≤ 0, where the AUC is undefined: such draws are left out and counted.

    Returns
    -------
    dict
        ``auc`` (on the full sample), ``ci68`` and ``ci95`` as ``[low, high]`` percentiles of
        the bootstrap distribution (equal to ``[auc, auc]`` when ``n_bootstrap`` is 0), and
        ``n_bootstrap_undefined``, the resamples left out.

    Raises
    ------
    MetricError
        As :func:`roc_curve`, or if every resample has a class of total weight ≤ 0.
    """
    b = _check("background", background)
    s = _check("signal", signal)
    weighted = background_weights is not None or signal_weights is not None
    wb = _check_weights("background", background_weights, b.size)
    ws = _check_weights("signal", signal_weights, s.size)
    value = auc_from_scores(
        b, s, background_weights=wb if weighted else None, signal_weights=ws if weighted else None
    )
    if n_bootstrap <= 0:
        return {"auc": value, "ci68": [value, value], "ci95": [value, value], "n_bootstrap_undefined": 0}
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_bootstrap):
        ib, is_ = rng.choice(b.size, b.size), rng.choice(s.size, s.size)
        if not weighted:
            draws.append(auc_from_scores(b[ib], s[is_]))
        elif wb[ib].sum() > 0 and ws[is_].sum() > 0:
            draws.append(auc_from_scores(b[ib], s[is_], background_weights=wb[ib], signal_weights=ws[is_]))
    if not draws:
        raise MetricError(
            f"every one of {n_bootstrap} bootstrap resamples has a class of total weight ≤ 0; the "
            "negative weights dominate — use a larger sample"
        )
    arr = np.array(draws)
    return {
        "auc": value,
        "ci68": np.percentile(arr, [16, 84]).tolist(),
        "ci95": np.percentile(arr, [2.5, 97.5]).tolist(),
        "n_bootstrap_undefined": n_bootstrap - len(draws),
    }


def min_background_count(max_relative_error: float) -> float:
    """Background events needed for ε_B to have relative statistical error ≤ ``max_relative_error``.

    The relative error of a count N is 1/√N, so N ≥ 1/max_relative_error² (25 for 20%). For
    weighted events N is the effective number (Σw)²/Σw² (:func:`effective_count`).
    """
    return 1.0 / max_relative_error**2


def rejection_at_signal_efficiency(eps_s: np.ndarray, eps_b: np.ndarray, target: float) -> float:
    """Background rejection 1/ε_B at the first threshold reaching ε_S ≥ ``target``.

    Conservative for step-wise ROC curves (no interpolation past a tie). ``inf`` when no
    background passes that threshold (or, with negative weights, the passing background
    weight is ≤ 0).
    """
    eps_s = np.asarray(eps_s)
    reached = np.flatnonzero(eps_s >= target)
    idx = int(reached[0]) if reached.size else len(eps_s) - 1
    eb = eps_b[idx]
    return float(np.inf) if eb <= 0 else float(1.0 / eb)


def signal_efficiency_at_background(
    eps_s: np.ndarray,
    eps_b: np.ndarray,
    target: float,
    n_background: float,
    max_relative_error: float = 0.2,
) -> float | None:
    """ε_S at the last threshold before ε_B first exceeds ``target``; None when the background
    sample is too small for ε_B = ``target`` to be measured with relative error ≤
    ``max_relative_error`` (``n_background``·``target`` below :func:`min_background_count`).

    ``n_background`` is the number of background events, or their effective number
    (Σw)²/Σw² for weighted events.
    """
    if n_background * target < min_background_count(max_relative_error):
        return None
    above = np.flatnonzero(np.asarray(eps_b) > target)
    idx = int(above[0]) - 1 if above.size else len(eps_b) - 1
    return float(eps_s[max(idx, 0)])


def sic_curve(
    eps_s: np.ndarray,
    eps_b: np.ndarray,
    n_background: float | np.ndarray,
    max_relative_error: float = 0.2,
) -> tuple[np.ndarray, np.ndarray]:
    """Significance improvement ε_S/√ε_B versus ε_S, dropping unreliable points.

    Points where fewer than 1/max_relative_error² background events pass (25 for 20%) are
    removed: there √ε_B is dominated by statistical noise and the SIC blows up artificially.

    Parameters
    ----------
    n_background : float or ndarray of shape eps_b.shape
        Number of background events N (the passing number is then ε_B·N), or, for weighted
        events, the effective number passing each threshold,
        :func:`passing_effective_count` — (Σw)²/Σw² of the passing events, whose relative
        error is that of ε_B's numerator.

    Returns
    -------
    eps_s, sic : ndarray
        Retained points (possibly empty).
    """
    eps_s = np.asarray(eps_s, dtype=np.float64)
    eps_b = np.asarray(eps_b, dtype=np.float64)
    n = np.asarray(n_background, dtype=np.float64)
    passing = n if n.ndim else eps_b * n
    keep = (passing >= min_background_count(max_relative_error) - 1e-9) & (eps_b > 0)
    return eps_s[keep], eps_s[keep] / np.sqrt(eps_b[keep])
