"""The scikit-learn estimator checks and PyOD's detector contract, for every hep_aa detector.

Documented exceptions (the only checks that fail; see ``EXPECTED_FAILURES``):

- ``check_outliers_train`` and ``check_outliers_fit_predict``: scikit-learn's outlier
  detectors predict -1/+1 with ``decision_function`` < 0 for outliers; hep_aa follows PyOD
  (``predict`` 0/1, ``decision_function`` higher = more anomalous), one sign convention
  throughout the package. ``SupervisedClassifier`` additionally needs labelled anomalies,
  which these two checks never pass.
- ``check_sample_weight_equivalence_on_dense_data``: an integer weight is not equivalent to
  repeating the event for stochastic minibatch training with a random validation split and
  sampled latent noise (and for the IsolationForest's random subsampling; scikit-learn's own
  IsolationForest lists the same exception).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from hep_aa.detector import (
    AnomalyAwareVAE,
    IsolationForestDetector,
    NotFittedDetectorError,
    PlainVAE,
    SupervisedClassifier,
    SyntheticAnomalyClassifier,
    load_detector,
)
from hep_aa.exceptions import DataFormatError, ModelError

SMALL = {"hidden": (8,), "epochs": 2, "batch_size": 64, "patience": 2, "device": "cpu"}
ESTIMATORS = [
    PlainVAE(latent_dim=2, **SMALL),
    AnomalyAwareVAE(latent_dim=2, finetune_epochs=2, ramp_epochs=1, **SMALL),
    IsolationForestDetector(n_estimators=20),
    SyntheticAnomalyClassifier(**SMALL),
    SupervisedClassifier(**SMALL),
]
_LABELS = "hep_aa predicts 0/1 with higher decision_function = more anomalous (PyOD), not sklearn's -1/+1"
EXPECTED_FAILURES = {
    "check_outliers_train": _LABELS,
    "check_outliers_fit_predict": _LABELS,
    "check_sample_weight_equivalence_on_dense_data": (
        "stochastic minibatch training / random subsampling: a weight of k is not k repeated events"
    ),
}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: EXPECTED_FAILURES)
def test_sklearn_estimator_checks(estimator: Any, check: Any) -> None:
    check(estimator)


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    background = rng.normal(size=(400, 4))
    outliers = rng.normal(loc=2.5, scale=0.3, size=(20, 4))  # jointly rare, inside the data box
    return background, outliers


@pytest.mark.parametrize("estimator", ESTIMATORS[:4], ids=lambda e: type(e).__name__)
def test_pyod_contract(estimator: Any) -> None:
    background, outliers = _data()
    x = np.vstack([background, outliers])
    est = estimator.set_params(contamination=0.05)
    labels = est.fit_predict(x)
    np.testing.assert_array_equal(labels, est.labels_)
    assert set(np.unique(labels)) <= {0, 1}
    np.testing.assert_array_equal(est.decision_scores_, est.decision_function(x))
    assert est.threshold_ == pytest.approx(np.quantile(est.decision_scores_, 0.95), rel=0.02, abs=1e-3)
    assert 0.03 <= labels.mean() <= 0.07
    pred = est.predict(x)
    assert pred.dtype.kind == "i"
    np.testing.assert_array_equal(pred, (est.decision_function(x) > est.threshold_).astype(int))
    # one sign convention: trained on background, far-away events score higher
    torch_params = {"hidden": (32, 32), "epochs": 60, "patience": 10}
    trained = clone(est).set_params(**(torch_params if "epochs" in est.get_params() else {}))
    trained.fit(background)
    assert trained.decision_function(outliers).mean() > trained.decision_function(background).mean()
    np.testing.assert_array_equal(est.score_samples(x), -est.decision_function(x))
    for method in ("linear", "unify"):
        proba = est.predict_proba(x, method=method)
        assert proba.shape == (len(x), 2)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        assert proba.min() >= 0.0
        assert proba.max() <= 1.0
        ordered = trained.predict_proba(np.vstack([background, outliers]), method=method)
        assert ordered[-20:, 1].mean() > ordered[:400, 1].mean()


@pytest.mark.parametrize("klass", [PlainVAE, IsolationForestDetector], ids=lambda k: k.__name__)
def test_not_fitted_is_both_errors(klass: type) -> None:
    est = klass()
    for method in ("predict", "decision_function", "predict_proba", "score_samples"):
        with pytest.raises(NotFittedError):
            getattr(est, method)(np.zeros((3, 4)))
        with pytest.raises(ModelError, match="not fitted"):
            getattr(est, method)(np.zeros((3, 4)))
    assert issubclass(NotFittedDetectorError, ModelError)


def test_sample_weight_moves_the_threshold_and_the_forest() -> None:
    background, outliers = _data(1)
    x = np.vstack([background, outliers])
    plain = IsolationForestDetector(n_estimators=50, contamination=0.1).fit(x)
    # weight the far events up: the weighted 90 % quantile of the training scores rises
    w = np.ones(len(x))
    w[-20:] = 10.0
    weighted = IsolationForestDetector(n_estimators=50, contamination=0.1).fit(x, sample_weight=w)
    assert weighted.threshold_ > plain.threshold_
    with pytest.raises(DataFormatError, match="negative sample weights"):
        IsolationForestDetector().fit(x, sample_weight=np.r_[-np.ones(10), np.ones(len(x) - 10)])
    with pytest.raises(DataFormatError, match="one weight per event"):
        PlainVAE(**SMALL).fit(x, sample_weight=np.ones(3))
    with pytest.raises(DataFormatError, match="every weight is zero"):
        PlainVAE(**SMALL).fit(x, sample_weight=np.zeros(len(x)))
    # negative weights (NLO generator weights) are accepted by the neural detectors
    signed = np.where(np.arange(len(x)) % 7 == 0, -0.5, 1.0)
    assert PlainVAE(**SMALL).fit(x, sample_weight=signed).threshold_ > 0


def test_threshold_survives_save_and_load(tmp_path: Path) -> None:
    background, outliers = _data(2)
    x = np.vstack([background, outliers])
    est = PlainVAE(contamination=0.05, **SMALL).fit(x)
    est.save(tmp_path / "m")
    again = load_detector(tmp_path / "m")
    assert again.threshold_ == pytest.approx(est.threshold_)
    np.testing.assert_array_equal(again.predict(x), est.predict(x))
    np.testing.assert_allclose(again.predict_proba(x), est.predict_proba(x))


@pytest.mark.parametrize(
    "make",
    [
        lambda: PlainVAE(
            hidden=(16,), latent_dim=2, epochs=40, patience=40, batch_size=64, seed=1, device="cpu"
        ),
        lambda: SyntheticAnomalyClassifier(
            hidden=(32, 32), epochs=40, patience=40, batch_size=64, seed=1, device="cpu"
        ),
    ],
    ids=["PlainVAE", "SyntheticAnomalyClassifier"],
)
def test_sample_weight_enters_the_training_loss(make: Any) -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(loc=-1.5, scale=0.4, size=(300, 4))
    b = rng.normal(loc=1.5, scale=0.4, size=(300, 4))
    x = np.vstack([a, b])
    w = np.r_[np.ones(300), np.full(300, 1e-3)]  # cluster b barely counts
    unweighted, weighted = make().fit(x), make().fit(x, sample_weight=w)
    gap_unweighted = unweighted.decision_function(b).mean() - unweighted.decision_function(a).mean()
    gap_weighted = weighted.decision_function(b).mean() - weighted.decision_function(a).mean()
    # down-weighting b in the loss makes b look anomalous relative to a
    assert gap_weighted > gap_unweighted + 0.1 * abs(gap_unweighted) + 1e-3


def test_weighted_aa_vae_fine_tune_runs_with_signed_weights() -> None:
    background, outliers = _data(4)
    x = np.vstack([background, outliers])
    y = np.r_[np.zeros(len(background)), np.ones(len(outliers))]
    w = np.where(np.arange(len(x)) % 5 == 0, -0.2, 1.0)
    est = AnomalyAwareVAE(latent_dim=2, finetune_epochs=3, ramp_epochs=1, **SMALL).fit(x, y, sample_weight=w)
    assert "finetune" in est.history_
    assert np.isfinite(est.threshold_)
