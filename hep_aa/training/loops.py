"""The explicit training loops: VAE pretraining, Anomaly Awareness fine-tuning, classifiers.

All data are tensors already on the training device; mini-batches are index slices of a
permutation drawn from an explicit :class:`torch.Generator` (no per-sample ``DataLoader``).
Every loop returns a history: one dict of lists, one entry per epoch.

Anomaly Awareness (arXiv:2504.11520), per mini-batch::

    loss = mean_bkg L_VAE(x) + mean_anom [ L_VAE(x) − λ_AA(t) · g(E(x)) ]

with E(x) the per-event reconstruction error (or the full negative ELBO) and g the anomaly
term: ``linear`` g(E) = E (the paper's); the bounded extensions ``hinge`` g(E) = −max(0, m − E)
(stop pushing once E ≥ m) and ``log`` g(E) = log(1 + E). Background and anomaly terms are
averaged separately so that a few hundred anomalies are not swamped by the background; the
anomaly batch is drawn with replacement from the (known ∪ synthetic) anomalies.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import warnings
from collections.abc import Callable, Iterator
from typing import Literal

import numpy as np
import torch

from hep_aa.metrics.roc import auc_from_scores
from hep_aa.models.vae import VAELoss, _VAEBase
from hep_aa.training.schedules import lambda_schedule

__all__ = ["TrainingDivergenceWarning", "anomaly_objective", "finetune", "pretrain", "train_classifier"]

log = logging.getLogger(__name__)

History = dict[str, list[float]]
AnomalyError = Literal["reconstruction", "elbo"]
AnomalyTerm = Literal["linear", "hinge", "log"]
AnomalyWeight = Literal["balanced", "count"]


class TrainingDivergenceWarning(UserWarning):
    """Fine-tuning was stopped early because the background loss diverged or became NaN."""


def _batches(
    n: int, batch_size: int, generator: torch.Generator, device: torch.device
) -> Iterator[torch.Tensor]:
    perm = torch.randperm(n, generator=generator).to(device)
    for start in range(0, n, batch_size):
        yield perm[start : start + batch_size]


def _adam(params: Iterator[torch.nn.Parameter], lr: float) -> torch.optim.Optimizer:
    """Adam with the fused kernel where this torch build has it (CPU since 2.4, CUDA)."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr)


def _normalised(weights: torch.Tensor | None) -> torch.Tensor | None:
    """Per-event weights scaled to mean 1 over the whole set (negative entries allowed).

    A minibatch loss is then ``mean(w · L)``: an unbiased estimate of the weighted mean of the
    per-event losses, stable even when a batch's weights sum to about zero.
    """
    if weights is None:
        return None
    mean = weights.double().mean()
    if not bool(mean > 0):
        raise ValueError("sample weights must have a positive sum")
    return (weights / mean).float()


def _weighted_mean(values: np.ndarray, weights: torch.Tensor | None) -> float:
    if weights is None:
        return float(values.mean())
    w = weights.detach().cpu().double().numpy()
    return float(np.sum(w * values) / np.sum(w))


def _improved(value: float, best: float, rel: float = 1e-6) -> bool:
    """True when ``value`` beats ``best`` by more than a relative ``rel`` (``best`` may be inf)."""
    return math.isfinite(value) and (not math.isfinite(best) or value < best - rel * abs(best))


def _autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager[object]:
    if enabled and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def per_event_error(loss: VAELoss, kind: AnomalyError) -> torch.Tensor:
    """E(x) of each event: the reconstruction term or the full negative ELBO."""
    return loss.recon if kind == "reconstruction" else loss.total


def anomaly_objective(
    loss: VAELoss,
    lam: float,
    *,
    error: AnomalyError = "reconstruction",
    term: AnomalyTerm = "linear",
    margin: float = 10.0,
) -> torch.Tensor:
    """Per-event Anomaly Awareness loss of anomalies, ``L_VAE(x) − λ·g(E(x))``.

    Parameters
    ----------
    loss : VAELoss
        Per-event terms of the anomalies, tensors of shape (n_anomalies,).
    lam : float
        λ_AA at this epoch.
    error : {"reconstruction", "elbo"}
        Which E(x).
    term : {"linear", "hinge", "log"}
        ``linear``: g = E (the paper); ``hinge``: g = −max(0, m − E); ``log``: g = log(1 + E).
    margin : float
        m of the hinge.
    """
    e = per_event_error(loss, error)
    if term == "linear":
        g = e
    elif term == "hinge":
        g = -torch.clamp(margin - e, min=0.0)
    elif term == "log":
        g = torch.log1p(e.clamp(min=0.0))
    else:
        raise ValueError(f"unknown anomaly term {term!r}; use linear, hinge or log")
    return loss.total - lam * g


@torch.no_grad()
def _evaluate(
    model: _VAEBase, x: torch.Tensor, batch_size: int = 65536, *, generator: torch.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-event total loss and reconstruction error on ``x``: deterministic (z = μ), or with
    a sampled z when a ``generator`` is given."""
    was_training = model.training
    model.eval()
    totals, recons = [], []
    for start in range(0, len(x), batch_size):
        xb = x[start : start + batch_size]
        loss = model.loss(xb, model(xb, sample=generator is not None, generator=generator))
        totals.append(loss.total.float())
        recons.append(loss.recon.float())
    model.train(was_training)
    both = torch.stack([torch.cat(totals), torch.cat(recons)]).cpu().numpy()  # one transfer
    return both[0], both[1]


def pretrain(
    model: _VAEBase,
    x_train: torch.Tensor,
    x_val: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    patience: int,
    generator: torch.Generator,
    mixed_precision: bool = False,
    weights: torch.Tensor | None = None,
    val_weights: torch.Tensor | None = None,
) -> History:
    """Stage 1: unsupervised VAE training on background with early stopping.

    Parameters
    ----------
    model : MLPVAE or ConvVAE
        Trained in place; on return it holds the weights of the best validation epoch.
    x_train, x_val : Tensor of shape (n_events, n_features)
        Background only, on the training device.
    epochs, batch_size, learning_rate, patience
        Usual meanings; training stops after ``patience`` epochs without improvement.
    generator : torch.Generator
        CPU generator for shuffling and latent noise.
    weights, val_weights : Tensor of shape (n_events,), optional
        Per-event weights (negative allowed): the losses become weighted means of the
        per-event losses.

    Returns
    -------
    dict of lists
        Per epoch: ``epoch, loss, recon, kl, val_loss``; plus ``best_epoch`` (one entry).
    """
    device = x_train.device
    opt = _adam(model.parameters(), learning_rate)
    noise = _device_generator(generator, device)
    hist: History = {"epoch": [], "loss": [], "recon": [], "kl": [], "val_loss": []}
    stopper = _EarlyStopping(model, patience)
    w_train = _normalised(weights)
    model.train()
    for epoch in range(epochs):
        stats = []  # detached per-step means; reduced once per epoch (no per-step sync)
        for idx in _batches(len(x_train), batch_size, generator, device):
            xb = x_train[idx]
            with _autocast(device, mixed_precision):
                if w_train is None:
                    loss = model.loss(xb, model(xb, generator=noise), reduction="mean")
                else:
                    per = model.loss(xb, model(xb, generator=noise), reduction="none")
                    wb = w_train[idx]
                    loss = type(per)(*(torch.mean(wb * t) for t in per))
            opt.zero_grad(set_to_none=True)
            loss.total.backward()
            opt.step()
            stats.append((loss.total.detach(), loss.recon.detach(), loss.kl.detach(), len(idx)))
        means = _weighted_means(stats, len(x_train))
        val = _weighted_mean(_evaluate(model, x_val)[0], val_weights)
        for key, value in zip(
            ("epoch", "loss", "recon", "kl", "val_loss"), (epoch, *means, val), strict=True
        ):
            hist[key].append(float(value))
        log.debug("pretrain epoch %d loss %.4f val %.4f", epoch, means[0], val)
        if stopper.stop(val, model):
            break
    return stopper.restore(model, hist)


class _EarlyStopping:
    """Keep the best-validation state; say when ``patience`` epochs passed without improvement."""

    def __init__(self, model: torch.nn.Module, patience: int) -> None:
        self.patience = patience
        self.best = math.inf
        self.state = copy.deepcopy(model.state_dict())
        self.since_best = 0

    def stop(self, val: float, model: torch.nn.Module) -> bool:
        if _improved(val, self.best):
            self.best, self.state, self.since_best = val, copy.deepcopy(model.state_dict()), 0
            return False
        self.since_best += 1
        return self.since_best >= self.patience

    def restore(self, model: torch.nn.Module, hist: History) -> History:
        """Load the best state into ``model`` and record its epoch in ``hist``."""
        model.load_state_dict(self.state)
        hist["best_epoch"] = [float(hist["epoch"][int(np.nanargmin(hist["val_loss"]))])]
        return hist


def _weighted_means(stats: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]], n: int) -> list[float]:
    """Event-weighted epoch means of per-step (total, recon, kl) batch means."""
    weights = torch.tensor([s[3] for s in stats], dtype=torch.float32)
    table = torch.stack([torch.stack(s[:3]) for s in stats]).float().cpu()  # one transfer
    return ((table * weights[:, None]).sum(0) / n).tolist()


def _device_generator(generator: torch.Generator, device: torch.device) -> torch.Generator:
    """A generator on ``device`` seeded from ``generator`` (identity on CPU)."""
    if device.type == "cpu":
        return generator
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    return torch.Generator(device=device).manual_seed(seed)


def finetune(
    model: _VAEBase,
    x_bkg: torch.Tensor,
    x_anom: torch.Tensor,
    x_val: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    lambda_max: float,
    ramp: Literal["linear", "cosine", "constant"] = "linear",
    ramp_epochs: int = 10,
    anomaly_error: AnomalyError = "reconstruction",
    anomaly_term: AnomalyTerm = "hinge",
    margin: float = 8.0,
    anomaly_weight: AnomalyWeight = "balanced",
    synthetic: Callable[[int], torch.Tensor] | None = None,
    n_synthetic: int = 0,
    divergence_tolerance: float = 0.5,
    select: Literal["last", "min-bkg"] = "last",
    select_tolerance: float = 0.01,
    generator: torch.Generator,
    mixed_precision: bool = False,
    weights: torch.Tensor | None = None,
    val_weights: torch.Tensor | None = None,
) -> History:
    """Stage 2: Anomaly Awareness fine-tuning of a pretrained VAE (in place).

    Parameters
    ----------
    model : MLPVAE or ConvVAE
        A pretrained model.
    x_bkg, x_val : Tensor of shape (n, n_features)
        Background for training and for validation (the divergence guard).
    x_anom : Tensor of shape (n_anomalies, n_features)
        Labelled (known) anomalies. With zero anomalies (and no synthetic ones) the loop
        trains on background only: the epoch-matched control of the same fine-tune.
    lambda_max, ramp, ramp_epochs
        λ_AA schedule, see :func:`~hep_aa.training.schedules.lambda_schedule`; ``ramp_epochs``
        is capped at ``epochs`` so that λ_max is always reached.
    anomaly_error, anomaly_term
        See :func:`anomaly_objective`.
    margin : float
        Hinge margin in units of the median background E(x) of the pretrained model
        (validation set), so that it does not depend on the number or scale of features.
    anomaly_weight : {"balanced", "count"}
        ``balanced``: the anomaly term is the mean over the anomaly batch, weighted as much
        as the background mean (a few dozen anomalies are not swamped by thousands of
        background events); ``count``: every event weighs the same, as in one mixed
        training set (the anomaly mean is scaled by n_anomalies / n_background).
    synthetic : callable, optional
        ``synthetic(n)`` returns ``n`` synthetic anomalies on the device; drawn afresh each
        epoch and added to the anomaly side (the AA + synthetic extension).
    n_synthetic : int
        Synthetic anomalies per epoch.
    divergence_tolerance : float
        The guard: when the background validation loss is NaN or exceeds ``(1 + tolerance)``
        × its pretrained value, fine-tuning stops, warns
        (:class:`TrainingDivergenceWarning`) and restores the best state seen: the epoch
        with the lowest background validation loss among those whose known-anomaly
        separation (``val_auc_known``) beats the pretrained model's, else the pretrained
        state itself.

    Returns
    -------
    dict of lists
        Per epoch: ``epoch, lambda, bkg_loss, bkg_kl, anom_error, val_bkg_loss,
        val_auc_known`` (AUC of E(x) for validation background vs the known anomalies — a
        monitor, not an unbiased metric). One entry each: ``val_bkg_loss_pretrained``,
        ``val_auc_known_pretrained``, ``hinge_margin``, ``stopped_early`` (1.0 when the
        guard fired), ``guard_epoch`` (the epoch at which it fired, −1 if not) and
        ``restored_epoch`` (the epoch whose state the model holds; −1 = the pretrained state).
    """
    control = len(x_anom) == 0 and (synthetic is None or n_synthetic == 0)
    device = x_bkg.device
    opt = _adam(model.parameters(), learning_rate)
    noise = _device_generator(generator, device)
    ref_total, ref_recon = _evaluate(model, x_val)
    ref = _weighted_mean(ref_total, val_weights)
    w_bkg = _normalised(weights)  # background term: weighted mean of per-event losses
    ref_auc = _known_auc(model, ref_total, ref_recon, x_anom, anomaly_error) if len(x_anom) else math.nan
    # The hinge margin is relative: m × the median background E(x) of the pretrained model,
    # with z sampled as in the training objective it bounds.
    sampled_total, sampled_recon = _evaluate(model, x_val, generator=noise)
    margin_abs = margin * float(
        np.median(sampled_recon if anomaly_error == "reconstruction" else sampled_total)
    )
    hist: History = {
        "epoch": [],
        "lambda": [],
        "bkg_loss": [],
        "bkg_kl": [],
        "anom_error": [],
        "val_bkg_loss": [],
        "val_auc_known": [],
        "val_bkg_loss_pretrained": [ref],
        "val_auc_known_pretrained": [ref_auc],
        "hinge_margin": [margin_abs],
        "stopped_early": [0.0],
        "guard_epoch": [-1.0],
        "restored_epoch": [-1.0],
    }
    best = _BestState(model)  # the pretrained state until an epoch beats it
    selector = _Selector(select_tolerance)
    model.train()
    # λ must reach λ_max within the fine-tune: while λ < 1 the anomaly term still pulls E(x) down
    ramp_epochs = min(ramp_epochs, epochs)
    for epoch in range(epochs):
        lam = lambda_schedule(epoch, lambda_max=lambda_max, ramp_epochs=ramp_epochs, kind=ramp)
        anomalies = (
            x_anom if synthetic is None or n_synthetic == 0 else torch.cat([x_anom, synthetic(n_synthetic)])
        )
        w_anom = 1.0 if anomaly_weight == "balanced" else len(anomalies) / len(x_bkg)
        n_a = min(batch_size, len(anomalies))
        sums = torch.zeros(3, device=device)
        n_steps = 0
        for idx in _batches(len(x_bkg), batch_size, generator, device):
            xb = x_bkg[idx]
            with _autocast(device, mixed_precision):
                lb = model.loss(xb, model(xb, generator=noise))
                total = lb.total.mean() if w_bkg is None else torch.mean(w_bkg[idx] * lb.total)
                if not control:
                    # drawn on the device (``noise`` is ``generator`` itself on CPU): no copy
                    pick = torch.randint(0, len(anomalies), (n_a,), generator=noise, device=device)
                    xa = anomalies[pick]
                    la = model.loss(xa, model(xa, generator=noise))
                    obj_a = anomaly_objective(
                        la, lam, error=anomaly_error, term=anomaly_term, margin=margin_abs
                    )
                    total = total + w_anom * obj_a.mean()
                    e_a = per_event_error(la, anomaly_error).mean().detach()
                else:
                    e_a = torch.zeros((), device=device)
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
            sums += torch.stack([lb.total.mean().detach(), lb.kl.mean().detach(), e_a.float()])
            n_steps += 1
        bkg_loss, bkg_kl, anom_error = (sums / n_steps).tolist()
        val_total, val_recon = _evaluate(model, x_val)
        val = _weighted_mean(val_total, val_weights)
        val_auc = _known_auc(model, val_total, val_recon, x_anom, anomaly_error) if len(x_anom) else math.nan
        for key, value in zip(
            ("epoch", "lambda", "bkg_loss", "bkg_kl", "anom_error", "val_bkg_loss", "val_auc_known"),
            (epoch, lam, bkg_loss, bkg_kl, anom_error, val, val_auc),
            strict=True,
        ):
            hist[key].append(float(value))
        log.debug(
            "finetune epoch %d lambda %.3f bkg %.4f E_anom %.4f val %.4f",
            epoch,
            lam,
            bkg_loss,
            anom_error,
            val,
        )
        if (
            not math.isfinite(val)
            or not math.isfinite(bkg_loss)
            or val > ref * (1.0 + divergence_tolerance) + 1e-12
        ):
            restored = best.restore(model)
            hist["stopped_early"] = [1.0]
            hist["guard_epoch"] = [float(epoch)]
            hist["restored_epoch"] = [float(restored)]
            which = "the pretrained state" if restored < 0 else f"the best state, epoch {restored}"
            message = (
                f"Anomaly Awareness fine-tuning diverged at epoch {epoch} (lambda={lam:.3g}): background "
                f"validation loss {val:.4g} vs {ref:.4g} after pretraining (tolerance "
                f"{divergence_tolerance:.0%}); stopped and restored {which}. Lower lambda_max, use "
                "anomaly_term 'hinge' (the default) or 'log', or raise divergence_tolerance."
            )
            log.warning(message)
            warnings.warn(message, TrainingDivergenceWarning, stacklevel=2)
            break
        # candidates for the guard: epochs that separate the known anomalies better than the
        # pretrained model (every epoch for the background-only control)
        if control or val_auc > ref_auc:
            best.offer(model, epoch, val)
        if select != "last":
            selector.offer(model, epoch, val, 1.0 if control else val_auc)
    else:
        hist["restored_epoch"] = [float(epochs - 1)]
        if select != "last":
            hist["restored_epoch"] = [float(selector.restore(model))]
    return hist


def _known_auc(
    model: _VAEBase, val_total: np.ndarray, val_recon: np.ndarray, x_anom: torch.Tensor, kind: AnomalyError
) -> float:
    """AUC of E(x) (z = μ) for validation background vs the known anomalies."""
    known_total, known_recon = _evaluate(model, x_anom)
    if kind == "reconstruction":
        return auc_from_scores(val_recon, known_recon)
    return auc_from_scores(val_total, known_total)


class _Selector:
    """Among epochs whose known-anomaly AUC is within ``tol`` of the best one, the state with
    the lowest background validation loss (states kept only while they can still qualify)."""

    def __init__(self, tol: float) -> None:
        self.tol = tol
        self.top = -math.inf
        self.kept: list[tuple[int, float, float, dict[str, torch.Tensor]]] = []

    def offer(self, model: torch.nn.Module, epoch: int, val: float, auc: float) -> None:
        if not (math.isfinite(val) and math.isfinite(auc)):
            return
        self.top = max(self.top, auc)
        self.kept = [k for k in self.kept if k[2] >= self.top - self.tol]
        if auc >= self.top - self.tol and (not self.kept or val < min(k[1] for k in self.kept)):
            self.kept.append((epoch, val, auc, copy.deepcopy(model.state_dict())))

    def restore(self, model: torch.nn.Module) -> int:
        if not self.kept:
            return -1
        epoch, _, _, state = min(self.kept, key=lambda k: k[1])
        model.load_state_dict(state)
        return epoch


class _BestState:
    """The lowest-validation-loss state among the epochs offered (starts as the given state)."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.state = copy.deepcopy(model.state_dict())
        self.epoch = -1
        self.val = math.inf

    def offer(self, model: torch.nn.Module, epoch: int, val: float) -> None:
        if math.isfinite(val) and val < self.val:
            self.state, self.epoch, self.val = copy.deepcopy(model.state_dict()), epoch, val

    def restore(self, model: torch.nn.Module) -> int:
        model.load_state_dict(self.state)
        return self.epoch


def train_classifier(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    x_val: torch.Tensor,
    y_val: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    patience: int,
    generator: torch.Generator,
    resample: Callable[[], tuple[torch.Tensor, torch.Tensor]] | None = None,
    mixed_precision: bool = False,
    weights: torch.Tensor | None = None,
    val_weights: torch.Tensor | None = None,
) -> History:
    """Binary classifier training with class-balanced BCE and early stopping.

    ``weights``/``val_weights`` (one per row of ``x``/``x_val``, negative allowed) weight the
    per-event BCE, normalised to mean 1 within each class; ``resample`` must then keep the row
    order and count (fresh synthetic points in the same rows).

    Parameters
    ----------
    model : MLPClassifier
        Returns one logit per event.
    x, y : Tensor of shape (n, n_features) and (n,)
        Training events and labels (1 = anomaly), on the device.
    x_val, y_val
        Validation events and labels, used for early stopping on the balanced BCE.
    resample : callable, optional
        Called at the start of every epoch to return fresh ``(x, y)`` (new synthetic points).

    Returns
    -------
    dict of lists
        Per epoch: ``epoch, loss, val_loss``; ``best_epoch``.
    """
    device = x.device
    opt = _adam(model.parameters(), learning_rate)

    def per_class(w: torch.Tensor | None, target: torch.Tensor) -> torch.Tensor | None:
        if w is None:
            return None
        out = w.float().clone()
        for cls in (0.0, 1.0):
            sel = target == cls
            if bool(sel.any()):
                mean = out[sel].double().mean()
                if not bool(mean > 0):
                    raise ValueError("sample weights of each class must have a positive sum")
                out[sel] = (out[sel] / mean).float()
        return out

    def balanced_bce(
        logits: torch.Tensor, target: torch.Tensor, w: torch.Tensor | None = None
    ) -> torch.Tensor:
        n_pos = target.sum().clamp(min=1.0)
        n_neg = (1 - target).sum().clamp(min=1.0)
        weight = torch.where(target > 0.5, 0.5 / n_pos, 0.5 / n_neg)
        if w is not None:  # per-event weights, normalised to mean 1 within each class
            weight = weight * w
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), target, reduction="none")
        return (weight * bce).sum()

    hist: History = {"epoch": [], "loss": [], "val_loss": []}
    stopper = _EarlyStopping(model, patience)
    w_val = per_class(val_weights, y_val)
    for epoch in range(epochs):
        if resample is not None:
            x, y = resample()
        w_tr = per_class(weights, y)
        model.train()
        # summed on the device in float64 (the order and precision of a Python float sum),
        # read once per epoch: no per-step host-device sync
        running = torch.zeros((), dtype=torch.float64, device=device)
        n_steps = 0
        for idx in _batches(len(x), batch_size, generator, device):
            with _autocast(device, mixed_precision):
                # balanced within the batch, so the loss scale does not depend on batch size
                loss = balanced_bce(model(x[idx]), y[idx], None if w_tr is None else w_tr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            running += loss.detach().double()
            n_steps += 1
        model.eval()
        with torch.no_grad():
            val = float(balanced_bce(model(x_val), y_val, w_val))
        hist["epoch"].append(float(epoch))
        hist["loss"].append(float(running) / max(n_steps, 1))
        hist["val_loss"].append(val)
        if stopper.stop(val, model):
            break
    return stopper.restore(model, hist)
