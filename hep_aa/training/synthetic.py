"""Uniform synthetic anomalies in the (enlarged) min–max box of the scaled data.

The idea of arXiv:2506.13955: points drawn uniformly in a box that contains the normal
data cover every direction an unseen anomaly could come from; adding them to the anomaly
side teaches a model the boundary of the normal data rather than only the known anomaly.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["synthetic_box", "uniform_synthetic"]


def synthetic_box(x: np.ndarray | torch.Tensor, enlarge: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper corners of the min–max box of ``x`` enlarged by ``enlarge`` per side.

    Parameters
    ----------
    x : array of shape (n_events, n_features)
    enlarge : float
        Each side moves out by ``enlarge × (max − min)``.

    Returns
    -------
    low, high : ndarray of shape (n_features,)
    """
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if arr.ndim != 2 or len(arr) == 0:
        raise ValueError(f"need a non-empty 2D array, got shape {arr.shape}")
    lo, hi = arr.min(axis=0).astype(np.float64), arr.max(axis=0).astype(np.float64)
    pad = enlarge * (hi - lo)
    return lo - pad, hi + pad


def uniform_synthetic(
    n: int,
    low: np.ndarray,
    high: np.ndarray,
    *,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """``n`` points uniform in the box [low, high], shape (n, n_features), on ``device``.

    Drawn where ``generator`` lives: a generator on ``device`` draws there (no host-to-device
    copy); a CPU generator draws on the host and the points are copied once.
    """
    where = generator.device
    lo = torch.as_tensor(low, dtype=dtype, device=where)
    hi = torch.as_tensor(high, dtype=dtype, device=where)
    u = torch.rand((n, lo.numel()), generator=generator, dtype=dtype, device=where)
    return (lo + u * (hi - lo)).to(device)
