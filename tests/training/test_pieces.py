from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from hep_aa.exceptions import ConfigError
from hep_aa.models import VAELoss
from hep_aa.training import (
    Scaler,
    anomaly_objective,
    lambda_schedule,
    resolve_device,
    synthetic_box,
    uniform_synthetic,
)


def test_linear_and_cosine_ramps() -> None:
    lin = [lambda_schedule(t, lambda_max=2.0, ramp_epochs=4) for t in range(6)]
    assert lin == pytest.approx([0.5, 1.0, 1.5, 2.0, 2.0, 2.0])
    cos = [lambda_schedule(t, lambda_max=2.0, ramp_epochs=4, kind="cosine") for t in range(6)]
    assert cos[1] == pytest.approx(1.0)  # half-way
    assert cos[3:] == pytest.approx([2.0, 2.0, 2.0])
    assert all(b >= a for a, b in itertools.pairwise(cos))
    assert lambda_schedule(0, lambda_max=3.0, ramp_epochs=5, kind="constant") == 3.0


def test_anomaly_objective_terms() -> None:
    loss = VAELoss(
        total=torch.tensor([5.0, 5.0]), recon=torch.tensor([4.0, 1.0]), kl=torch.tensor([1.0, 4.0])
    )
    torch.testing.assert_close(anomaly_objective(loss, 0.5), torch.tensor([3.0, 4.5]))
    torch.testing.assert_close(anomaly_objective(loss, 1.0, error="elbo"), torch.tensor([0.0, 0.0]))
    # hinge: + lambda * max(0, m - E)
    torch.testing.assert_close(
        anomaly_objective(loss, 2.0, term="hinge", margin=3.0), torch.tensor([5.0, 9.0])
    )
    torch.testing.assert_close(
        anomaly_objective(loss, 1.0, term="log"),
        torch.tensor([5.0 - np.log(5.0), 5.0 - np.log(2.0)], dtype=torch.float32),
    )


def test_synthetic_box_and_uniform() -> None:
    x = np.array([[0.0, -1.0], [2.0, 1.0]])
    low, high = synthetic_box(x, enlarge=0.5)
    np.testing.assert_allclose(low, [-1.0, -2.0])
    np.testing.assert_allclose(high, [3.0, 2.0])
    pts = uniform_synthetic(5000, low, high, generator=torch.Generator().manual_seed(0))
    assert pts.shape == (5000, 2)
    assert bool((pts.min(0).values >= torch.tensor([-1.0, -2.0])).all())
    assert bool((pts.max(0).values <= torch.tensor([3.0, 2.0])).all())
    np.testing.assert_allclose(pts.mean(0).numpy(), [1.0, 0.0], atol=0.06)


@pytest.mark.parametrize("kind", ["standard", "robust", "log-robust", "minmax", "none"])
def test_scaler_round_trip_and_constant_column(kind: str) -> None:
    rng = np.random.default_rng(0)
    x = np.c_[rng.normal(3, 2, 500), np.full(500, 7.0), rng.lognormal(0, 2, 500)]
    scaler = Scaler(kind).fit(x)
    out = scaler.transform(x)
    assert out.dtype == np.float32
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(Scaler.from_dict(scaler.to_dict()).transform(x), out)
    if kind == "standard":
        np.testing.assert_allclose(out[:, 0].mean(), 0, atol=1e-5)
        np.testing.assert_allclose(out[:, 0].std(), 1, atol=1e-4)
        assert np.all(out[:, 1] == 0)


def test_resolve_device() -> None:
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="gpu0"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            resolve_device("cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_uniform_synthetic_draws_on_the_generators_device() -> None:
    low, high = np.zeros(3), np.ones(3)
    on_gpu = uniform_synthetic(10, low, high, generator=torch.Generator("cuda").manual_seed(0), device="cuda")
    assert on_gpu.device.type == "cuda"
    from_cpu = uniform_synthetic(10, low, high, generator=torch.Generator().manual_seed(0), device="cuda")
    torch.testing.assert_close(
        from_cpu.cpu(), uniform_synthetic(10, low, high, generator=torch.Generator().manual_seed(0))
    )
