from __future__ import annotations

import numpy as np
import pytest

from hep_aa.features.images import SYNTHETIC_KINDS, synthetic_images


@pytest.fixture
def images() -> np.ndarray:
    x = np.zeros((6, 28, 28), dtype=np.float32)
    x[:, 5:10, 12:16] = 1.0  # a bar in the upper half
    return x.reshape(6, 784)


@pytest.mark.parametrize("kind", SYNTHETIC_KINDS)
def test_kinds_shape_range_seeded(images: np.ndarray, kind: str) -> None:
    a = synthetic_images(images, kind, seed=3)
    assert a.shape == images.shape
    assert a.min() >= 0.0
    assert a.max() <= 1.0
    np.testing.assert_array_equal(a, synthetic_images(images, kind, seed=3))


def test_kind_definitions(images: np.ndarray) -> None:
    np.testing.assert_array_equal(synthetic_images(images, "inverted"), 1.0 - images)
    rot = synthetic_images(images, "rotated", seed=0).reshape(-1, 28, 28)
    assert rot[:, 5:10, 12:16].sum() < images.reshape(-1, 28, 28)[:, 5:10, 12:16].sum()
    occ = synthetic_images(images, "occluded", seed=0)
    assert np.all((occ == 1.0).sum(axis=1) >= 100)
    noisy = synthetic_images(images, "noise", seed=0)
    assert 0.2 < (noisy - images).mean() < 0.3
    with pytest.raises(ValueError, match="unknown synthetic image anomaly"):
        synthetic_images(images, "blurred")
