from __future__ import annotations

import math

import pytest
import torch

from hep_aa.models import MLPVAE, ConvVAE, MLPClassifier, VAEOutput, vae_loss


def test_mlp_vae_shapes_and_determinism() -> None:
    torch.manual_seed(0)
    model = MLPVAE(5, hidden=(16, 8), latent_dim=3)
    x = torch.randn(11, 5)
    out = model(x, sample=False)
    assert isinstance(out, VAEOutput)
    assert out.recon.shape == (11, 5)
    assert out.mu.shape == out.logvar.shape == (11, 3)
    torch.testing.assert_close(model(x, sample=False).recon, out.recon)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    torch.testing.assert_close(model(x, generator=g1).recon, model(x, generator=g2).recon)


def test_gaussian_loss_hand_computed() -> None:
    x = torch.tensor([[1.0, 2.0]])
    out = VAEOutput(recon=torch.tensor([[0.0, 0.0]]), mu=torch.tensor([[1.0]]), logvar=torch.tensor([[0.0]]))
    loss = vae_loss(x, out, beta=2.0)
    assert loss.recon.item() == pytest.approx(5.0)  # 1 + 4
    assert loss.kl.item() == pytest.approx(0.5)  # -0.5 (1 + 0 - 1 - 1)
    assert loss.total.item() == pytest.approx(6.0)
    assert vae_loss(x, out, reduction="mean").total.item() == pytest.approx(5.5)


def test_bernoulli_loss_hand_computed() -> None:
    x = torch.tensor([[1.0, 0.0]])
    out = VAEOutput(recon=torch.tensor([[0.5, 0.25]]), mu=torch.zeros(1, 2), logvar=torch.zeros(1, 2))
    loss = vae_loss(x, out, decoder="bernoulli")
    assert loss.recon.item() == pytest.approx(-math.log(0.5) - math.log(0.75))
    assert loss.kl.item() == pytest.approx(0.0)


def test_bernoulli_decoder_outputs_probabilities() -> None:
    model = MLPVAE(784, hidden=(400,), latent_dim=20, decoder="bernoulli")  # the paper's MNIST net
    with torch.no_grad():
        out = model(torch.rand(4, 784))
    assert float(out.recon.min()) >= 0.0
    assert float(out.recon.max()) <= 1.0


def test_conv_vae_round_trip_shapes() -> None:
    model = ConvVAE(784, latent_dim=8)
    out = model(torch.rand(3, 784), sample=False)
    assert out.recon.shape == (3, 784)
    assert out.mu.shape == (3, 8)
    with pytest.raises(ValueError, match="square images"):
        ConvVAE(100 + 1)


def test_classifier_logits() -> None:
    assert MLPClassifier(4, (8,))(torch.randn(6, 4)).shape == (6,)


@pytest.mark.parametrize("kwargs", [{"latent_dim": 0}, {"decoder": "poisson"}, {"beta": -1.0}])
def test_invalid_hyperparameters(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="must be"):
        MLPVAE(4, **kwargs)
