"""PyTorch modules only: architecture and maths, no I/O, no device handling.

- :class:`MLPVAE` — fully connected VAE for tables (Gaussian decoder) or flattened images
  (Bernoulli decoder); the paper's MNIST network is ``MLPVAE(784, hidden=(400,), latent_dim=20,
  decoder="bernoulli")``.
- :class:`ConvVAE` — a small convolutional VAE for square single-channel images.
- :class:`MLPClassifier` — the synthetic-anomaly and supervised baselines.
"""

from __future__ import annotations

from hep_aa.models.classifier import MLPClassifier
from hep_aa.models.vae import MLPVAE, ConvVAE, VAELoss, VAEOutput, vae_loss

__all__ = ["MLPVAE", "ConvVAE", "MLPClassifier", "VAELoss", "VAEOutput", "vae_loss"]
