"""MLP binary classifier (synthetic-anomaly baseline, arXiv:2506.13955, and supervised ceiling)."""

from __future__ import annotations

import itertools

import torch
from torch import nn

__all__ = ["MLPClassifier"]


class MLPClassifier(nn.Module):
    """Fully connected network returning one logit per event (higher = more anomalous).

    Parameters
    ----------
    n_features : int
        Input dimension.
    hidden : sequence of int
        Hidden-layer widths.
    """

    def __init__(self, n_features: int, hidden: tuple[int, ...] | list[int] = (64, 32)) -> None:
        super().__init__()
        if n_features < 1 or not hidden:
            raise ValueError("MLPClassifier needs n_features >= 1 and at least one hidden layer")
        widths = [n_features, *hidden]
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(widths):
            layers += [nn.Linear(a, b), nn.ELU()]
        layers.append(nn.Linear(widths[-1], 1))
        self.net = nn.Sequential(*layers)
        self.n_features = n_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of shape (n_events,)."""
        return self.net(x).squeeze(-1)
