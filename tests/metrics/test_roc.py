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
