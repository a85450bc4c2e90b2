"""Shared fixtures for the hep_aa test-suite."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (where the Snakefile and workflows/ live)."""
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data samples beside the project; tests using it skip when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data samples not found at {SHARED_DATA}")
    return SHARED_DATA


def make_ring_toy(seed: int, n_background: int = 6000, n_features: int = 8) -> dict[str, np.ndarray]:
    """Background on a curved 2D manifold (a ring, tanh-embedded in ``n_features`` dims).

    ``known``: a cluster inside the ring (upper half); ``unseen``: the same kind of anomaly
    in the lower half, never shown to the detectors; ``unseen_offplane``: the ring lifted
    off the manifold. A VAE reconstructs points inside the ring fairly well (the decoder
    interpolates), which is the failure mode Anomaly Awareness addresses.
    """
    rng = np.random.default_rng(seed)
    mixing = np.random.default_rng(7).normal(size=(n_features, 3))

    def embed(z: np.ndarray) -> np.ndarray:
        return np.tanh(z @ mixing.T) + 0.05 * rng.normal(size=(len(z), n_features))

    def ring(n: int, radius: float, t0: float = 0.0, t1: float = 2 * np.pi, lift: float = 0.0) -> np.ndarray:
        t = rng.uniform(t0, t1, n)
        r = radius + 0.05 * rng.normal(size=n)
        return np.c_[r * np.cos(t), r * np.sin(t), lift + 0.3 * np.sin(2 * t)]

    return {
        "background": embed(ring(n_background, 1.0)),
        "test_background": embed(ring(3000, 1.0)),
        "known": embed(ring(400, 0.35, 0.0, np.pi)),
        "unseen": embed(ring(1000, 0.35, np.pi, 2 * np.pi)),
        "unseen_offplane": embed(ring(1000, 1.0, lift=0.6)),
    }


@pytest.fixture(scope="session")
def ring_toy() -> dict[str, np.ndarray]:
    """The fixed-seed curved-manifold toy (see :func:`make_ring_toy`)."""
    return make_ring_toy(seed=2)
