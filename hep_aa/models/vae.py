"""Variational autoencoders (Kingma & Welling) with Gaussian or Bernoulli decoders.

Per-event loss, the negative ELBO up to constants::

    L_VAE(x) = R(x, x̂) + β · KL(q(z|x) ‖ N(0, 1))

with ``R`` the squared error summed over features (Gaussian decoder of unit variance, up to a
factor 1/2 folded into β) or the binary cross-entropy summed over pixels (Bernoulli decoder),
computed from the decoder's logits.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MLPVAE", "ConvVAE", "VAELoss", "VAEOutput", "vae_loss"]

Decoder = Literal["gaussian", "bernoulli"]


class VAEOutput:
    """Result of a VAE forward pass.

    Unpacks as ``recon, mu, logvar``. A Bernoulli decoder's forward pass keeps its logits
    (:meth:`from_logits`): the loss is then computed from them with
    :func:`~torch.nn.functional.binary_cross_entropy_with_logits` (exact where the sigmoid
    saturates, autocast-safe, and 6–7× cheaper than sigmoid followed by BCE on CPU), and
    ``recon`` applies the sigmoid only when it is read.

    Attributes
    ----------
    recon : Tensor of shape (n_events, n_features)
        Decoder mean in data space (probabilities for a Bernoulli decoder).
    mu, logvar : Tensor of shape (n_events, latent_dim)
        Mean and log-variance of the approximate posterior q(z|x).
    logits : Tensor of shape (n_events, n_features) or None
        Bernoulli decoder logits (``recon = sigmoid(logits)``); None for a Gaussian decoder
        or an output built from probabilities.
    """

    __slots__ = ("_recon", "logits", "logvar", "mu")

    def __init__(
        self,
        recon: torch.Tensor | None,
        mu: torch.Tensor,
        logvar: torch.Tensor,
        logits: torch.Tensor | None = None,
    ) -> None:
        if recon is None and logits is None:
            raise ValueError("VAEOutput needs recon or logits")
        self._recon, self.mu, self.logvar, self.logits = recon, mu, logvar, logits

    @classmethod
    def from_logits(cls, logits: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> VAEOutput:
        """The output of a Bernoulli decoder, given by its logits."""
        return cls(None, mu, logvar, logits)

    @property
    def recon(self) -> torch.Tensor:
        """Decoder mean in data space (the sigmoid of the logits, computed on first access)."""
        if self._recon is None:
            self._recon = torch.sigmoid(self.logits)  # type: ignore[arg-type]
        return self._recon

    def __iter__(self) -> Iterator[torch.Tensor]:
        return iter((self.recon, self.mu, self.logvar))

    def __repr__(self) -> str:
        given = "logits" if self.logits is not None else "recon"
        return f"VAEOutput({given}, n_events={self.mu.shape[0]}, latent_dim={self.mu.shape[-1]})"


class VAELoss(NamedTuple):
    """Per-event (``reduction="none"``) or batch-mean loss terms; ``total = recon + β·kl``."""

    total: torch.Tensor
    recon: torch.Tensor
    kl: torch.Tensor


def vae_loss(
    x: torch.Tensor,
    out: VAEOutput,
    *,
    beta: float = 1.0,
    decoder: Decoder = "gaussian",
    reduction: Literal["none", "mean"] = "none",
) -> VAELoss:
    """Negative ELBO of each event.

    Parameters
    ----------
    x : Tensor of shape (n_events, n_features)
        Inputs (standardised features, or images in [0, 1] for the Bernoulli decoder).
    out : VAEOutput
        The forward pass on ``x``.
    beta : float
        Weight of the KL term.
    decoder : {"gaussian", "bernoulli"}
        Squared error or binary cross-entropy, summed over features.
    reduction : {"none", "mean"}
        Per-event tensors of shape (n_events,) or their means.
    """
    if decoder == "gaussian":
        recon = (out.recon - x).pow(2).sum(dim=1)
    elif decoder == "bernoulli" and out.logits is not None:
        # from the logits: log-sum-exp stable, autocast-safe, one fused kernel each way
        recon = F.binary_cross_entropy_with_logits(out.logits, x, reduction="none").sum(dim=1)
    elif decoder == "bernoulli":  # an output built from probabilities
        recon = F.binary_cross_entropy(out.recon, x, reduction="none").sum(dim=1)
    else:  # pragma: no cover - guarded by the constructors
        raise ValueError(f"unknown decoder {decoder!r}")
    kl = -0.5 * (1.0 + out.logvar - out.mu.pow(2) - out.logvar.exp()).sum(dim=1)
    total = recon + beta * kl
    if reduction == "mean":
        return VAELoss(total.mean(), recon.mean(), kl.mean())
    return VAELoss(total, recon, kl)


class _VAEBase(nn.Module):
    """Reparameterisation, the loss and the decoder-output convention shared by the VAEs."""

    n_features: int
    latent_dim: int
    beta: float
    decoder_kind: Decoder

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Raw decoder output: the mean (Gaussian) or the logits (Bernoulli)."""
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder mean in data space, shape (n_events, n_features)."""
        raw = self.decode_logits(z)
        return torch.sigmoid(raw) if self.decoder_kind == "bernoulli" else raw

    def forward(
        self, x: torch.Tensor, *, sample: bool = True, generator: torch.Generator | None = None
    ) -> VAEOutput:
        """Encode, draw ``z = μ + σ·ε`` (or ``z = μ`` with ``sample=False``) and decode.

        Parameters
        ----------
        x : Tensor of shape (n_events, n_features)
        sample : bool
            Draw a latent sample (training) or use the posterior mean (deterministic scoring).
        generator : torch.Generator, optional
            Source of ε, for reproducible training.
        """
        mu, logvar = self.encode(x)
        if sample:
            eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
            z = mu + eps * torch.exp(0.5 * logvar)
        else:
            z = mu
        raw = self.decode_logits(z)
        if self.decoder_kind == "bernoulli":
            return VAEOutput.from_logits(raw, mu, logvar)
        return VAEOutput(raw, mu, logvar)

    def loss(self, x: torch.Tensor, out: VAEOutput, reduction: Literal["none", "mean"] = "none") -> VAELoss:
        """:func:`vae_loss` with this model's β and decoder."""
        return vae_loss(x, out, beta=self.beta, decoder=self.decoder_kind, reduction=reduction)


def _check(n_features: int, latent_dim: int, decoder: str, beta: float) -> None:
    if n_features < 1 or latent_dim < 1:
        raise ValueError(f"n_features and latent_dim must be >= 1, got {n_features}, {latent_dim}")
    if decoder not in ("gaussian", "bernoulli"):
        raise ValueError(f"decoder must be 'gaussian' or 'bernoulli', got {decoder!r}")
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")


def _mlp(widths: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(widths):
        layers += [nn.Linear(a, b), nn.ELU()]
    return nn.Sequential(*layers)


class MLPVAE(_VAEBase):
    """Fully connected VAE.

    Parameters
    ----------
    n_features : int
        Input dimension.
    hidden : sequence of int
        Encoder widths; the decoder mirrors them.
    latent_dim : int
        Dimension of z.
    beta : float
        KL weight.
    decoder : {"gaussian", "bernoulli"}
        Gaussian (linear output, squared error) for standardised tables; Bernoulli (logit
        output, BCE from the logits, ``recon`` = sigmoid) for images in [0, 1].
    """

    def __init__(
        self,
        n_features: int,
        hidden: tuple[int, ...] | list[int] = (64, 32),
        latent_dim: int = 4,
        beta: float = 1.0,
        decoder: Decoder = "gaussian",
    ) -> None:
        super().__init__()
        _check(n_features, latent_dim, decoder, beta)
        self.n_features, self.latent_dim, self.beta, self.decoder_kind = n_features, latent_dim, beta, decoder
        hidden = list(hidden)
        self.encoder = _mlp([n_features, *hidden])
        self.to_mu = nn.Linear(hidden[-1], latent_dim)
        self.to_logvar = nn.Linear(hidden[-1], latent_dim)
        self.decoder = nn.Sequential(_mlp([latent_dim, *hidden[::-1]]), nn.Linear(hidden[0], n_features))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        return self.to_mu(h), self.to_logvar(h).clamp(-20.0, 20.0)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)


class ConvVAE(_VAEBase):
    """Small convolutional VAE for square single-channel images given as flat vectors.

    Two stride-2 convolutions (side → side/4), a dense bottleneck, and the transpose on the
    way back. Inputs and outputs are flat, shape (n_events, side²), so the same detector,
    scaler and loss serve tables and images.

    Parameters
    ----------
    n_features : int
        ``side**2`` with ``side`` divisible by 4 (784 for MNIST).
    channels : tuple of two int
        Feature maps of the two convolutions.
    latent_dim, beta, decoder
        As for :class:`MLPVAE`; images usually want ``decoder="bernoulli"``.
    """

    def __init__(
        self,
        n_features: int = 784,
        channels: tuple[int, int] | list[int] = (32, 64),
        latent_dim: int = 20,
        beta: float = 1.0,
        decoder: Decoder = "bernoulli",
    ) -> None:
        super().__init__()
        _check(n_features, latent_dim, decoder, beta)
        side = math.isqrt(n_features)
        if side * side != n_features or side % 4:
            raise ValueError(f"ConvVAE needs square images with side divisible by 4, got {n_features} pixels")
        c1, c2 = channels
        self.n_features, self.latent_dim, self.beta, self.decoder_kind = n_features, latent_dim, beta, decoder
        self.side, self.c2 = side, c2
        flat = c2 * (side // 4) ** 2
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c1, 4, stride=2, padding=1),
            nn.ELU(),
            nn.Conv2d(c1, c2, 4, stride=2, padding=1),
            nn.ELU(),
            nn.Flatten(),
        )
        self.to_mu = nn.Linear(flat, latent_dim)
        self.to_logvar = nn.Linear(flat, latent_dim)
        self.from_z = nn.Sequential(nn.Linear(latent_dim, flat), nn.ELU())
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1),
            nn.ELU(),
            nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1),
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x.view(-1, 1, self.side, self.side))
        return self.to_mu(h), self.to_logvar(h).clamp(-20.0, 20.0)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        h = self.from_z(z).view(-1, self.c2, self.side // 4, self.side // 4)
        return self.decoder(h).flatten(1)
