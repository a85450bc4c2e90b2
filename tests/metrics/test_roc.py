from __future__ import annotations

import numpy as np
import pytest

from hep_aa.exceptions import MetricError
from hep_aa.metrics import auc_from_scores, roc_curve


def test_roc_hand_computed() -> None:
    eps_s, eps_b, thr = roc_curve([0.1, 0.4], [0.35, 0.8])
    # thresholds: inf, 0.8, 0.4, 0.35, 0.1
    np.testing.assert_allclose(thr, [np.inf, 0.8, 0.4, 0.35, 0.1])
    np.testing.assert_allclose(eps_s, [0, 0.5, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(eps_b, [0, 0.0, 0.5, 0.5, 1.0])
    assert auc_from_scores([0.1, 0.4], [0.35, 0.8]) == pytest.approx(0.75)


def test_ties_count_one_half() -> None:
    # 2x2 pairs: (1 vs 1) tie, (1 vs 3) win, (2 vs 1) loss, (2 vs 3) win -> (0.5 + 1 + 0 + 1)/4
    assert auc_from_scores([1.0, 2.0], [1.0, 3.0]) == pytest.approx(0.625)
    eps_s, eps_b, _ = roc_curve([1.0, 1.0], [1.0])
    np.testing.assert_allclose(eps_s, [0, 1])  # a tie is never split
    np.testing.assert_allclose(eps_b, [0, 1])


def test_auc_matches_mann_whitney() -> None:
    rng = np.random.default_rng(1)
    b = rng.integers(0, 20, 300).astype(float)
    s = rng.integers(3, 25, 200).astype(float)
    pairs = (s[:, None] > b[None, :]).mean() + 0.5 * (s[:, None] == b[None, :]).mean()
    assert auc_from_scores(b, s) == pytest.approx(pairs, rel=1e-12)


def test_weights() -> None:
    # doubling a background event's weight equals duplicating it
    assert auc_from_scores([0.1, 0.5], [0.3], background_weights=[2.0, 1.0]) == pytest.approx(
        auc_from_scores([0.1, 0.1, 0.5], [0.3])
    )


@pytest.mark.parametrize(
    ("bkg", "sig", "match"), [([], [1.0], "background scores are empty"), ([1.0], [], "signal")]
)
def test_empty_class_raises(bkg: list[float], sig: list[float], match: str) -> None:
    with pytest.raises(MetricError, match=match):
        auc_from_scores(bkg, sig)


def test_nan_raises() -> None:
    with pytest.raises(MetricError, match="NaN"):
        roc_curve([0.1, np.nan], [0.2])


# --- per-event weights, negative allowed: agreement with scikit-learn -------------------------


def _weighted_toy(seed: int = 3, n_b: int = 600, n_s: int = 300) -> tuple[np.ndarray, ...]:
    """Scores rounded to 0.05 (many ties across and within classes), NLO-like weights: mostly
    positive, about 15% negative, a few exact zeros."""
    rng = np.random.default_rng(seed)
    b = np.round(rng.normal(0.0, 1.0, n_b) / 0.05) * 0.05
    s = np.round(rng.normal(0.8, 1.0, n_s) / 0.05) * 0.05
    wb = rng.exponential(1.0, n_b) * np.where(rng.random(n_b) < 0.15, -1.0, 1.0)
    ws = rng.exponential(1.0, n_s) * np.where(rng.random(n_s) < 0.15, -1.0, 1.0)
    wb[:5] = 0.0
    ws[:3] = 0.0
    return b, s, wb, ws


def _pairwise_auc(b: np.ndarray, s: np.ndarray, wb: np.ndarray, ws: np.ndarray) -> float:
    """Weighted Mann-Whitney: sum_ij w_i w_j ([s_i > b_j] + [s_i = b_j]/2) / (sum w_i sum w_j)."""
    win = (s[:, None] > b[None, :]) + 0.5 * (s[:, None] == b[None, :])
    return float(ws @ win @ wb / (ws.sum() * wb.sum()))


def test_weighted_roc_points_match_sklearn_with_negative_weights_and_ties() -> None:
    sk = pytest.importorskip("sklearn.metrics")
    b, s, wb, ws = _weighted_toy()
    assert (wb < 0).any()
    assert (ws < 0).any()
    assert np.unique(np.r_[b, s]).size < 0.2 * (b.size + s.size)  # ties dominate
    eps_s, eps_b, thr = roc_curve(b, s, background_weights=wb, signal_weights=ws)
    y = np.r_[np.zeros(b.size), np.ones(s.size)]
    fpr, tpr, sk_thr = sk.roc_curve(y, np.r_[b, s], sample_weight=np.r_[wb, ws], drop_intermediate=False)
    np.testing.assert_array_equal(thr, sk_thr)
    np.testing.assert_allclose(eps_b, fpr, rtol=0, atol=1e-12)
    np.testing.assert_allclose(eps_s, tpr, rtol=0, atol=1e-12)
    assert np.any(np.diff(eps_b) < 0)  # negative background weights: eps_B is not monotonic
    auc = auc_from_scores(b, s, background_weights=wb, signal_weights=ws)
    assert auc == pytest.approx(float(np.trapezoid(tpr, fpr)), rel=0, abs=1e-12)
    assert auc == pytest.approx(_pairwise_auc(b, s, wb, ws), rel=0, abs=1e-12)
    with pytest.raises(ValueError, match="neither increasing nor decreasing"):
        sk.roc_auc_score(y, np.r_[b, s], sample_weight=np.r_[wb, ws])  # sklearn refuses this case


def test_weighted_auc_matches_roc_auc_score() -> None:
    sk = pytest.importorskip("sklearn.metrics")
    b, s, wb, ws = _weighted_toy(seed=5)
    wb = np.abs(wb)  # roc_auc_score needs a monotonic fpr: negative weights on the signal only
    y = np.r_[np.zeros(b.size), np.ones(s.size)]
    expected = sk.roc_auc_score(y, np.r_[b, s], sample_weight=np.r_[wb, ws])
    assert auc_from_scores(b, s, background_weights=wb, signal_weights=ws) == pytest.approx(
        expected, rel=0, abs=1e-12
    )
    # and with unit weights the unweighted code path gives sklearn's value too
    assert auc_from_scores(b, s) == pytest.approx(sk.roc_auc_score(y, np.r_[b, s]), rel=0, abs=1e-12)


def test_working_points_with_negative_weights() -> None:
    from hep_aa.metrics import rejection_at_signal_efficiency, signal_efficiency_at_background

    # eps_S dips below 0.5 after first reaching it; the first threshold reaching it counts
    eps_s = np.array([0.0, 0.6, 0.4, 0.7, 1.0])
    eps_b = np.array([0.0, 0.1, 0.05, 0.3, 1.0])
    assert rejection_at_signal_efficiency(eps_s, eps_b, 0.5) == pytest.approx(10.0)
    # eps_B first exceeds 0.2 at index 3: the working point is index 2, not a later dip
    eps_b2 = np.array([0.0, 0.1, 0.15, 0.3, 0.18, 1.0])
    eps_s2 = np.array([0.0, 0.3, 0.5, 0.8, 0.7, 1.0])
    assert signal_efficiency_at_background(eps_s2, eps_b2, 0.2, 1000) == pytest.approx(0.5)
    # a negative passing background weight has no rejection (not a negative one)
    assert rejection_at_signal_efficiency(np.array([0, 0.5, 1]), np.array([0, -0.01, 1]), 0.5) == np.inf


def test_sic_guard_uses_effective_events() -> None:
    from hep_aa.metrics import effective_count, passing_effective_count, sic_curve

    w = np.array([1.0, 1.0, 2.0, -1.0])
    assert effective_count(w) == pytest.approx(9.0 / 7.0)
    assert effective_count(None, 12) == 12.0
    # 200 background events; the 30 highest scores: 5 of weight 10 and 25 of weight 0.1, so
    # 30 events pass there but only (52.5)^2 / 500.25 = 5.5 effective ones
    rng = np.random.default_rng(0)
    b = np.r_[np.linspace(2.0, 3.0, 30), rng.normal(0, 1, 170).clip(-5, 1.9)]
    wb = np.r_[np.where(np.arange(30) % 6 == 0, 10.0, 0.1), np.ones(170)]
    s = rng.normal(1.5, 1.0, 100)
    eps_s, eps_b, thr = roc_curve(b, s, background_weights=wb)
    passing = passing_effective_count(b, thr, wb)
    np.testing.assert_allclose(passing_effective_count(b, thr), [np.sum(b >= t) for t in thr])
    for t, n in zip(thr, passing, strict=True):
        p = b >= t
        assert n == pytest.approx(wb[p].sum() ** 2 / (wb[p] ** 2).sum() if p.any() else 0.0)
    at_30 = int(np.flatnonzero(thr == b[0])[0])  # lowest of the 30
    assert passing[at_30] == pytest.approx(52.5**2 / 500.25)
    s_keep, sic = sic_curve(eps_s, eps_b, passing)
    mask = (passing >= 25 - 1e-9) & (eps_b > 0)
    np.testing.assert_array_equal(s_keep, eps_s[mask])
    np.testing.assert_allclose(sic, eps_s[mask] / np.sqrt(eps_b[mask]))
    assert not mask[at_30]  # a plain count (30 >= 25) would have kept this point
    # a scalar N means unit weights: eps_B * N events pass
    s_scalar, _ = sic_curve(eps_s, eps_b, 200)
    assert s_scalar.size == np.count_nonzero((eps_b * 200 >= 25 - 1e-9) & (eps_b > 0))


@pytest.mark.parametrize(
    ("wb", "ws", "match"),
    [
        ([1.0, np.nan], [1.0], "background weights contain 1 NaN/Inf"),
        ([1.0, 1.0], [1.0, 2.0], "signal weights have shape"),
        ([1.0, -2.0], [1.0], r"total background weight is -1 \(≤ 0"),
        ([1.0, 1.0], [0.0], "total signal weight is 0"),
    ],
)
def test_bad_weights_raise(wb: list[float], ws: list[float], match: str) -> None:
    with pytest.raises(MetricError, match=match):
        roc_curve([0.1, 0.2], [0.3], background_weights=wb, signal_weights=ws)


def test_weighted_bootstrap_resamples_events_with_their_weights() -> None:
    from hep_aa.metrics import auc_bootstrap

    b, s, wb, ws = _weighted_toy(seed=7, n_b=2000, n_s=1000)
    out = auc_bootstrap(b, s, background_weights=wb, signal_weights=ws, n_bootstrap=200, seed=1)
    assert out["auc"] == pytest.approx(auc_from_scores(b, s, background_weights=wb, signal_weights=ws))
    assert out["n_bootstrap_undefined"] == 0
    lo, hi = out["ci68"]
    assert lo < out["auc"] < hi
    # the 68% interval is about the spread of the AUC over independent toys of the same size
    aucs = []
    for i in range(40):
        bb, ss, wwb, wws = _weighted_toy(seed=100 + i, n_b=2000, n_s=1000)
        aucs.append(auc_from_scores(bb, ss, background_weights=wwb, signal_weights=wws))
    assert (hi - lo) / 2 == pytest.approx(np.std(aucs), rel=0.4)
    # unweighted: the same draws as before weights existed (resampling values or indices)
    plain = auc_bootstrap(b, s, n_bootstrap=20, seed=3)
    rng = np.random.default_rng(3)
    draws = [auc_from_scores(rng.choice(b, b.size), rng.choice(s, s.size)) for _ in range(20)]
    assert plain["ci68"] == pytest.approx(np.percentile(draws, [16, 84]).tolist())


def test_type_metrics_weighted_records_sums_and_matches_sklearn() -> None:
    sk = pytest.importorskip("sklearn.metrics")
    from hep_aa.metrics import type_metrics

    b, s, wb, ws = _weighted_toy(seed=11, n_b=3000, n_s=800)
    scores = np.r_[b, s]
    labels = np.r_[np.zeros(b.size), np.ones(s.size)]
    types = np.array(["background"] * b.size + ["x"] * s.size, dtype=object)
    m = type_metrics(scores, labels, types, weights=np.r_[wb, ws], n_bootstrap=10)["x"]
    assert m["weighted"] is True
    assert m["sum_weights_background"] == pytest.approx(wb.sum())
    assert m["sum_weights_anomaly"] == pytest.approx(ws.sum())
    assert m["n_effective_background"] == pytest.approx(wb.sum() ** 2 / (wb**2).sum())
    fpr, tpr, _ = sk.roc_curve(labels, scores, sample_weight=np.r_[wb, ws], drop_intermediate=False)
    assert m["auc"] == pytest.approx(float(np.trapezoid(tpr, fpr)), rel=0, abs=1e-12)
    unweighted = type_metrics(scores, labels, types, n_bootstrap=10)["x"]
    assert unweighted["weighted"] is False
    assert "sum_weights_anomaly" not in unweighted
    with pytest.raises(MetricError, match=r"anomaly type 'x'.*total signal weight"):
        type_metrics(scores, labels, types, weights=np.r_[wb, -np.abs(ws)], n_bootstrap=0)
    with pytest.raises(MetricError, match="one per score"):
        type_metrics(scores, labels, types, weights=wb, n_bootstrap=0)
