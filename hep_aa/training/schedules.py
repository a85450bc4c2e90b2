"""Ramp of the Anomaly Awareness weight λ_AA(t)."""

from __future__ import annotations

import math
from typing import Literal

__all__ = ["lambda_schedule"]


def lambda_schedule(
    epoch: int,
    *,
    lambda_max: float,
    ramp_epochs: int,
    kind: Literal["linear", "cosine", "constant"] = "linear",
) -> float:
    """λ_AA at fine-tuning ``epoch`` (0-based), rising from 0 to ``lambda_max``.

    ``linear``: λ_max·min(1, (t+1)/T); ``cosine``: λ_max·(1 − cos(π·min(1, (t+1)/T)))/2;
    ``constant`` (or T = 0): λ_max from the first epoch. The first epoch already has a small
    positive λ so that no fine-tuning epoch trains the anomalies as background.

    Examples
    --------
    >>> [lambda_schedule(t, lambda_max=2.0, ramp_epochs=4) for t in range(5)]
    [0.5, 1.0, 1.5, 2.0, 2.0]
    """
    if epoch < 0:
        raise ValueError(f"epoch must be >= 0, got {epoch}")
    if kind == "constant" or ramp_epochs <= 0:
        return float(lambda_max)
    frac = min(1.0, (epoch + 1) / ramp_epochs)
    if kind == "linear":
        return float(lambda_max * frac)
    if kind == "cosine":
        return float(lambda_max * 0.5 * (1.0 - math.cos(math.pi * frac)))
    raise ValueError(f"unknown ramp {kind!r}; use linear, cosine or constant")
