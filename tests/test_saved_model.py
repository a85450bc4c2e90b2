"""Scoring a saved torch model without scikit-learn gives the detector's own scores."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hep_aa.detector import load_detector, make_detector
from hep_aa.io.artifacts import write_table
from hep_aa.saved_model import load_scorer


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(size=(400, 4)), rng.normal(2.0, 1.0, size=(40, 4))])
    return X, np.r_[np.zeros(400), np.ones(40)]


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("vae", {}),
        ("aa-vae", {"anomaly_error": "elbo"}),
        ("vae", {"decoder": "bernoulli", "scaler": "minmax"}),
        ("supervised", {}),
        ("synth-classifier", {}),
    ],
)
def test_scorer_equals_detector(tmp_path: Path, data: tuple, method: str, params: dict) -> None:
    X, y = data
    det = make_detector(method, seed=0, epochs=3, finetune_epochs=2, **params).fit(X, y)
    det.save(tmp_path / "m")
    scorer = load_scorer(tmp_path / "m")
    assert scorer is not None
    np.testing.assert_array_equal(
        scorer.decision_function(X), load_detector(tmp_path / "m").decision_function(X)
    )
    np.testing.assert_array_equal(scorer.decision_function(X), det.decision_function(X))
    assert scorer.class_name == type(det).__name__


def test_isolation_forest_is_not_a_torch_model(tmp_path: Path, data: tuple) -> None:
    X, y = data
    make_detector("iforest", seed=0).fit(X, y).save(tmp_path / "m")
    assert load_scorer(tmp_path / "m") is None


def test_hep_aa_score_does_not_import_scikit_learn(tmp_path: Path, data: tuple) -> None:
    X, y = data
    make_detector("vae", seed=0, epochs=2).fit(X, y, feature_names=list("abcd")).save(tmp_path / "m")
    write_table(tmp_path / "t.parquet", X, list("abcd"), labels=y, types=["background"] * 400 + ["x"] * 40)
    code = (
        "import sys; from hep_aa.cli.main import main; "
        f"rc = main(['score', {str(tmp_path / 'm')!r}, {str(tmp_path / 't.parquet')!r}, "
        f"'-o', {str(tmp_path / 's.parquet')!r}]); "
        "print(rc, 'sklearn' in sys.modules, 'scipy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-3:] == ["0", "False", "False"], out.stdout + out.stderr
