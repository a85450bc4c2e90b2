"""The training loops: no per-step host-device synchronisation, determinism for a fixed seed."""

from __future__ import annotations

import contextlib
import warnings
from collections import Counter
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import torch

from hep_aa.models import MLPVAE, MLPClassifier
from hep_aa.training import finetune, pretrain, train_classifier

# Tensor methods that copy device data to the host (or block on it) when called from Python.
_SYNCING = ("item", "tolist", "cpu", "numpy", "__float__", "__int__", "__bool__", "__index__", "to")

BATCH = 32


@contextlib.contextmanager
def count_host_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Count Python-level calls of the syncing Tensor methods (``.to`` included: on a GPU
    a host-to-device copy of a CPU index is a blocking transfer too)."""
    counts: Counter[str] = Counter()
    with monkeypatch.context() as m:
        for name in _SYNCING:
            original = getattr(torch.Tensor, name)

            def counted(self, *args, __name=name, __original=original, **kwargs):  # type: ignore[no-untyped-def]
                counts[__name] += 1
                return __original(self, *args, **kwargs)

            m.setattr(torch.Tensor, name, counted)
        yield counts


DEVICE = torch.device("cpu")  # the GPU test switches it


def _data(n: int, n_features: int = 6, seed: int = 0, *, bernoulli: bool = False) -> torch.Tensor:
    x = np.random.default_rng(seed).normal(size=(n, n_features)).astype(np.float32)
    return torch.from_numpy(1.0 / (1.0 + np.exp(-x)) if bernoulli else x).to(DEVICE)


def _pretrain(n: int, *, bernoulli: bool = False, weights: bool = False) -> dict:
    torch.manual_seed(0)
    model = MLPVAE(6, (16, 8), 3, decoder="bernoulli" if bernoulli else "gaussian").to(DEVICE)
    x = _data(n, bernoulli=bernoulli)
    return pretrain(
        model,
        x,
        _data(64, seed=1, bernoulli=bernoulli),
        epochs=2,
        batch_size=BATCH,
        learning_rate=1e-3,
        patience=5,
        generator=torch.Generator().manual_seed(0),
        weights=torch.linspace(0.5, 1.5, n, device=DEVICE) if weights else None,
        val_weights=torch.ones(64, device=DEVICE) if weights else None,
    )


def _finetune(n: int, *, n_anom: int = 20, synthetic: bool = True, bernoulli: bool = False) -> dict:
    torch.manual_seed(0)
    model = MLPVAE(6, (16, 8), 3, decoder="bernoulli" if bernoulli else "gaussian").to(DEVICE)
    gen = torch.Generator().manual_seed(3)
    anom = _data(n_anom, seed=2, bernoulli=bernoulli)
    anom = anom if bernoulli else anom + 3.0

    def synth(k: int) -> torch.Tensor:
        return torch.rand(k, 6, generator=gen).to(DEVICE)  # once per epoch

    return finetune(
        model,
        _data(n, bernoulli=bernoulli),
        anom,
        _data(64, seed=1, bernoulli=bernoulli),
        epochs=2,
        batch_size=BATCH,
        learning_rate=1e-3,
        lambda_max=1.0,
        ramp_epochs=2,
        synthetic=synth if synthetic else None,
        n_synthetic=10 if synthetic else 0,
        generator=torch.Generator().manual_seed(1),
    )


def _classifier(n: int, *, resample: bool = True) -> dict:
    torch.manual_seed(0)
    x = _data(n)
    y = (x[:, 0] > 0.3).float()
    gen = torch.Generator().manual_seed(4)

    def fresh() -> tuple[torch.Tensor, torch.Tensor]:
        return x + 0.01 * torch.randn(x.shape, generator=gen).to(DEVICE), y

    return train_classifier(
        MLPClassifier(6, (16, 8)).to(DEVICE),
        x,
        y,
        _data(64, seed=1),
        (_data(64, seed=1)[:, 0] > 0.3).float(),
        epochs=2,
        batch_size=BATCH,
        learning_rate=1e-3,
        patience=5,
        generator=torch.Generator().manual_seed(0),
        resample=fresh if resample else None,
        weights=torch.linspace(0.5, 1.5, n, device=DEVICE),
        val_weights=torch.ones(64, device=DEVICE),
    )


LOOPS: dict[str, Callable[[int], dict]] = {
    "pretrain": _pretrain,
    "pretrain-weighted": lambda n: _pretrain(n, weights=True),
    "pretrain-bernoulli": lambda n: _pretrain(n, bernoulli=True),
    "finetune-aa-synthetic": _finetune,
    "finetune-aa-bernoulli": lambda n: _finetune(n, synthetic=False, bernoulli=True),
    "finetune-epoch-matched": lambda n: _finetune(n, n_anom=0, synthetic=False),
    "classifier-resampled": _classifier,
}


@pytest.mark.parametrize("loop", list(LOOPS))
def test_host_reads_do_not_grow_with_the_number_of_steps(loop: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # 3 vs 12 steps per epoch: every host read (a blocking sync on a GPU) is per epoch
    counts = []
    for n in (3 * BATCH, 12 * BATCH):
        with count_host_reads(monkeypatch) as c:
            LOOPS[loop](n)
        counts.append(dict(c))
    assert counts[0] == counts[1]


@pytest.mark.parametrize("loop", list(LOOPS))
def test_same_seed_same_history_to_the_last_digit(loop: str) -> None:
    first, second = LOOPS[loop](5 * BATCH + 7), LOOPS[loop](5 * BATCH + 7)
    np.testing.assert_array_equal(
        np.array([v for k in sorted(first) for v in first[k]]),
        np.array([v for k in sorted(second) for v in second[k]]),
    )


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("loop", list(LOOPS))
def test_cuda_syncs_do_not_grow_with_the_number_of_steps(loop: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # torch's own sync detector: one warning per blocking synchronisation
    monkeypatch.setitem(globals(), "DEVICE", torch.device("cuda"))
    counts = []
    for n in (3 * BATCH, 12 * BATCH):
        LOOPS[loop](n)  # warm-up: lazy CUDA initialisation syncs once
        torch.cuda.set_sync_debug_mode("warn")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                LOOPS[loop](n)
        finally:
            torch.cuda.set_sync_debug_mode("default")
        counts.append(sum("synchroniz" in str(w.message) for w in caught))
    assert counts[0] == counts[1]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_bernoulli_vae_trains_under_bf16_autocast(monkeypatch: pytest.MonkeyPatch) -> None:
    # F.binary_cross_entropy refuses autocast; the loss from the logits is autocast-safe
    monkeypatch.setitem(globals(), "DEVICE", torch.device("cuda"))
    torch.manual_seed(0)
    x = _data(8 * BATCH, bernoulli=True)
    model = MLPVAE(6, (16, 8), 3, decoder="bernoulli").to(DEVICE)
    hist = pretrain(
        model,
        x,
        x[:64],
        epochs=2,
        batch_size=BATCH,
        learning_rate=1e-3,
        patience=5,
        generator=torch.Generator().manual_seed(0),
        mixed_precision=True,
    )
    assert np.all(np.isfinite(hist["loss"]))
    assert np.all(np.isfinite(hist["val_loss"]))
