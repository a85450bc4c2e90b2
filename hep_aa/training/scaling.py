"""Feature scaling fitted on background only, serialisable to plain JSON.

``standard``: (x − mean)/std. ``robust``: (x − median)/IQR, for heavy-tailed inputs.
``log-robust``: sign(x)·log1p(|x|) first, then robust — for quantities spanning many decades
(network-flow byte counts, momenta). ``minmax``: to [0, 1]. ``none``: identity (images in
[0, 1]). Constant features get scale 1 so they map to 0 instead of NaN.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

__all__ = ["Scaler"]

Kind = Literal["standard", "robust", "log-robust", "minmax", "none"]
_KINDS = ("standard", "robust", "log-robust", "minmax", "none")


class Scaler:
    """Per-feature affine scaling (after an optional signed log), ``(f(x) − center) / scale``.

    Parameters
    ----------
    kind : {"standard", "robust", "log-robust", "minmax", "none"}
    """

    def __init__(self, kind: Kind = "standard") -> None:
        if kind not in _KINDS:
            raise ValueError(f"unknown scaler {kind!r}; use one of {', '.join(_KINDS)}")
        self.kind = kind
        self.center: np.ndarray | None = None
        self.scale: np.ndarray | None = None

    def _pre(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return np.sign(x) * np.log1p(np.abs(x)) if self.kind == "log-robust" else x

    def fit(self, x: np.ndarray) -> Scaler:
        """Fit on ``x`` of shape (n_events, n_features) (background only)."""
        x = self._pre(x)
        n_features = x.shape[1]
        if self.kind == "standard":
            center, scale = x.mean(axis=0), x.std(axis=0)
        elif self.kind in ("robust", "log-robust"):
            q25, center, q75 = np.percentile(x, [25, 50, 75], axis=0)
            scale = q75 - q25
            std = x.std(axis=0)
            scale = np.where(scale > 0, scale, std)  # IQR 0 (spiky features): fall back to std
        elif self.kind == "minmax":
            center, scale = x.min(axis=0), x.max(axis=0) - x.min(axis=0)
        else:
            center, scale = np.zeros(n_features), np.ones(n_features)
        self.center = np.asarray(center, dtype=np.float64)
        self.scale = np.where(np.asarray(scale) > 0, scale, 1.0).astype(np.float64)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Scaled copy of ``x`` as float32, shape unchanged."""
        if self.center is None or self.scale is None:
            raise RuntimeError("Scaler.transform called before fit")
        return ((self._pre(x) - self.center) / self.scale).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable parameters."""
        return {
            "kind": self.kind,
            "center": None if self.center is None else self.center.tolist(),
            "scale": None if self.scale is None else self.scale.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scaler:
        """Inverse of :meth:`to_dict`."""
        out = cls(data["kind"])
        if data.get("center") is not None:
            out.center = np.asarray(data["center"], dtype=np.float64)
            out.scale = np.asarray(data["scale"], dtype=np.float64)
        return out
