from __future__ import annotations

import math

import numpy as np
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


@pytest.mark.parametrize("scale", [1.0, 3.0])
def test_bernoulli_loss_from_logits_agrees_with_sigmoid_then_bce(scale: float) -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(64, 784, generator=g) * scale
    x = torch.rand(64, 784, generator=g)
    mu, logvar = torch.randn(64, 20, generator=g), 0.1 * torch.randn(64, 20, generator=g)
    new = vae_loss(x, VAEOutput.from_logits(logits, mu, logvar), decoder="bernoulli")
    old = vae_loss(x, VAEOutput(torch.sigmoid(logits), mu, logvar), decoder="bernoulli")
    exact = vae_loss(
        x.double(), VAEOutput.from_logits(logits.double(), mu.double(), logvar.double()), decoder="bernoulli"
    )
    torch.testing.assert_close(new.total.double(), exact.total, rtol=1e-6, atol=0.0)
    # sigmoid-then-BCE loses digits in log(1 − σ) for large logits: it agrees to 1e-6 only
    # while the logits stay moderate
    torch.testing.assert_close(new.total, old.total, rtol=1e-6 if scale == 1.0 else 5e-5, atol=0.0)
    assert torch.equal(new.kl, old.kl)


def test_bernoulli_loss_from_logits_is_exact_where_the_sigmoid_saturates() -> None:
    # sigmoid(40) rounds to 1 in float32: sigmoid-then-BCE clamps log(1 − σ) = log(0) at −100
    # where the logits form gives the exact −log σ(−40) = 40
    logits = torch.tensor([[40.0, -40.0, 0.0]])
    x = torch.tensor([[0.0, 1.0, 1.0]])
    zeros = torch.zeros(1, 2)
    loss = vae_loss(x, VAEOutput.from_logits(logits, zeros, zeros), decoder="bernoulli")
    assert loss.recon.item() == pytest.approx(80.0 + math.log(2.0), rel=1e-6)
    clamped = vae_loss(x, VAEOutput(torch.sigmoid(logits), zeros, zeros), decoder="bernoulli")
    assert clamped.recon.item() == pytest.approx(100.0 + 40.0 + math.log(2.0), rel=1e-6)


def test_forward_keeps_logits_for_bernoulli_and_recon_is_their_sigmoid() -> None:
    torch.manual_seed(0)
    x = torch.rand(5, 16)
    bern = MLPVAE(16, hidden=(8,), latent_dim=2, decoder="bernoulli")
    out = bern(x, sample=False)
    assert out.logits is not None
    torch.testing.assert_close(out.recon, torch.sigmoid(out.logits))
    torch.testing.assert_close(out.recon, bern.decode(out.mu))
    recon, mu, logvar = out  # unpacks as before
    assert recon is out.recon
    assert mu is out.mu
    assert logvar is out.logvar
    gauss = MLPVAE(16, hidden=(8,), latent_dim=2)
    assert gauss(x, sample=False).logits is None
    with pytest.raises(ValueError, match="recon or logits"):
        VAEOutput(None, out.mu, out.logvar)


@pytest.mark.parametrize("make", [lambda: MLPVAE(784, (400,), 20, decoder="bernoulli"), lambda: ConvVAE(784)])
def test_saved_weights_layout_unchanged(make) -> None:  # type: ignore[no-untyped-def]
    # model folders store the state dict: the logits change must not rename or reshape anything
    model = make()
    expected = {
        MLPVAE: [
            ("encoder.0.weight", (400, 784)),
            ("encoder.0.bias", (400,)),
            ("to_mu.weight", (20, 400)),
            ("to_mu.bias", (20,)),
            ("to_logvar.weight", (20, 400)),
            ("to_logvar.bias", (20,)),
            ("decoder.0.0.weight", (400, 20)),
            ("decoder.0.0.bias", (400,)),
            ("decoder.1.weight", (784, 400)),
            ("decoder.1.bias", (784,)),
        ],
        ConvVAE: [
            ("encoder.0.weight", (32, 1, 4, 4)),
            ("encoder.0.bias", (32,)),
            ("encoder.2.weight", (64, 32, 4, 4)),
            ("encoder.2.bias", (64,)),
            ("to_mu.weight", (20, 3136)),
            ("to_mu.bias", (20,)),
            ("to_logvar.weight", (20, 3136)),
            ("to_logvar.bias", (20,)),
            ("from_z.0.weight", (3136, 20)),
            ("from_z.0.bias", (3136,)),
            ("decoder.0.weight", (64, 32, 4, 4)),
            ("decoder.0.bias", (32,)),
            ("decoder.2.weight", (32, 1, 4, 4)),
            ("decoder.2.bias", (1,)),
        ],
    }[type(model)]
    assert [(k, tuple(v.shape)) for k, v in model.state_dict().items()] == expected


def test_saved_bernoulli_model_scores_as_with_sigmoid_then_bce(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # a model folder written before the logits loss holds the same weights: its scores (the
    # reconstruction term, z = μ) agree with the old sigmoid-then-BCE formula to float32 rounding
    from hep_aa.detector import AnomalyAwareVAE, load_detector

    x = torch.rand(300, 16, generator=torch.Generator().manual_seed(0)).numpy()
    det = AnomalyAwareVAE(
        hidden=(8,), latent_dim=2, decoder="bernoulli", scaler="none", epochs=2, device="cpu"
    ).fit(x)
    det.save(tmp_path / "model")
    loaded = load_detector(tmp_path / "model")
    scores = loaded.decision_function(x)
    with torch.no_grad():
        xt = torch.from_numpy(x)
        mu, _ = loaded.module_.encode(xt)
        probs = torch.sigmoid(loaded.module_.decode_logits(mu))
        old = torch.nn.functional.binary_cross_entropy(probs, xt, reduction="none").sum(1).numpy()
    np.testing.assert_allclose(scores, old, rtol=2e-6)
    np.testing.assert_array_equal(scores, det.decision_function(x))
