"""Stage-1 sharing: VAE detectors fitted in one ``shared_stage1`` context pretrain once and
are bit-identical to fits of their own."""

from __future__ import annotations

import numpy as np
import pytest

from hep_aa import detector as D
from hep_aa.detector import make_detector, shared_stage1

METHODS = ("vae", "vae-matched", "aa-vae", "aa-vae-synth")


def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(600, 4)), rng.normal(2.0, 1.0, size=(60, 4))])
    y = np.r_[np.zeros(600), np.ones(60)]
    w = rng.uniform(0.5, 1.5, size=len(X))
    return X, y, w


def _fit_all(X: np.ndarray, y: np.ndarray, w: np.ndarray | None, seed: int = 3) -> dict[str, tuple]:
    out = {}
    for method in METHODS:
        det = make_detector(method, seed=seed, epochs=4, finetune_epochs=3, batch_size=64)
        det.fit(X, y, sample_weight=w)
        out[method] = (det.decision_function(X), repr(det.history_))
    return out


@pytest.mark.parametrize("weighted", [False, True])
def test_shared_stage1_is_bit_identical(weighted: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    X, y, w = _data()
    w = w if weighted else None
    alone = _fit_all(X, y, w)
    calls = []
    real = D.pretrain
    monkeypatch.setattr(D, "pretrain", lambda *a, **k: calls.append(1) or real(*a, **k))
    with shared_stage1():
        shared = _fit_all(X, y, w)
    assert len(calls) == 1  # one stage 1 for the four VAE detectors
    for method in METHODS:
        np.testing.assert_array_equal(alone[method][0], shared[method][0], err_msg=method)
        assert alone[method][1] == shared[method][1], method
    assert D._STAGE1_CACHE is None  # nothing kept after the context


def test_different_seed_or_settings_do_not_share(monkeypatch: pytest.MonkeyPatch) -> None:
    X, y, _ = _data()
    calls = []
    real = D.pretrain
    monkeypatch.setattr(D, "pretrain", lambda *a, **k: calls.append(1) or real(*a, **k))
    with shared_stage1():
        make_detector("vae", seed=0, epochs=2).fit(X, y)
        make_detector("vae", seed=1, epochs=2).fit(X, y)
        make_detector("aa-vae", seed=0, epochs=3, finetune_epochs=1).fit(X, y)
        make_detector("aa-vae", seed=0, epochs=2, finetune_epochs=1).fit(X[1:], y[1:])  # other background
        make_detector("aa-vae", seed=0, epochs=2, finetune_epochs=1).fit(X[:-1], y[:-1])  # same background
    assert len(calls) == 4
