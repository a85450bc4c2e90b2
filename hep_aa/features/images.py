"""Seeded synthetic anomalies for 28×28 images in [0, 1] (flat rows of 784 pixels).

Kinds (each documented by what it does to a normal image):

- ``noise``: uniform pixel noise added (amplitude 0.5), clipped to [0, 1];
- ``inverted``: 1 − x;
- ``rotated``: rotated by 90°, 180° or 270° (random per image);
- ``occluded``: a random 10×10 square set to 1 (white block);
- ``superimposed``: pixel-wise maximum of two different normal images.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SYNTHETIC_KINDS", "synthetic_images"]

SYNTHETIC_KINDS = ("noise", "inverted", "rotated", "occluded", "superimposed")


def synthetic_images(images: np.ndarray, kind: str, *, seed: int = 0, side: int = 28) -> np.ndarray:
    """Apply the anomaly ``kind`` to every image of ``images`` (shape (n, side²)), seeded."""
    rng = np.random.default_rng(seed)
    x = np.asarray(images, dtype=np.float32).reshape(-1, side, side)
    n = len(x)
    if kind == "noise":
        out = np.clip(x + 0.5 * rng.random(x.shape, dtype=np.float32), 0.0, 1.0)
    elif kind == "inverted":
        out = 1.0 - x
    elif kind == "rotated":
        k = rng.integers(1, 4, n)
        out = np.stack([np.rot90(img, int(r)) for img, r in zip(x, k, strict=True)]) if n else x
    elif kind == "occluded":
        out = x.copy()
        corners = rng.integers(0, side - 10, (n, 2))
        for img, (r, c) in zip(out, corners, strict=True):
            img[r : r + 10, c : c + 10] = 1.0
    elif kind == "superimposed":
        partner = rng.permutation(n)
        out = np.maximum(x, x[partner])
    else:
        raise ValueError(f"unknown synthetic image anomaly {kind!r}; use one of {', '.join(SYNTHETIC_KINDS)}")
    return out.reshape(n, side * side).astype(np.float32)
