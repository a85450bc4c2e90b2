"""Training curves of both stages, with the epochs whose state the model keeps marked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from hep_aa.plotting.style import use_style

__all__ = ["plot_training_history", "restored_epochs"]


def _scalar(value: Any) -> float | None:
    """A history entry stored as a number or a one-element list (JSON) → float or None."""
    if isinstance(value, Mapping):
        return None
    if isinstance(value, list | tuple | np.ndarray):
        value = value[0] if len(value) else None
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def restored_epochs(history: Mapping[str, Any]) -> dict[str, Any]:
    """Which state each stage kept, read from a detector's ``history_``.

    Returns
    -------
    dict
        ``pretrain_best``: epoch restored by early stopping (``best_epoch``) or None;
        ``finetune_restored``: fine-tune epoch whose state the divergence guard restored (-1 for
        the pretrained state) or None when the guard did not fire; ``finetune_diverged``: the
        fine-tune epoch at which the guard fired. Read from ``restored_epoch`` and
        ``guard_epoch`` (as :func:`hep_aa.training.loops.finetune` records them; or a ``guard``
        record with ``restored_epoch`` / ``epoch``) when the history has them, else inferred
        from ``stopped_early`` (older models: the epoch before the last one recorded).
    """
    pre = history.get("pretrain", {}) or {}
    fine = history.get("finetune", {}) or {}
    out: dict[str, Any] = {"pretrain_best": _scalar(pre.get("best_epoch")), "finetune_restored": None}
    out["finetune_diverged"] = None
    guard = fine.get("guard")
    fired = bool(_scalar(fine.get("stopped_early")) or 0.0)
    restored = _scalar(fine.get("restored_epoch"))
    diverged = None
    if isinstance(guard, Mapping):
        fired = fired or bool(guard.get("fired", guard.get("stopped_early", False)))
        restored = restored if restored is not None else _scalar(guard.get("restored_epoch"))
        diverged = _scalar(guard.get("epoch", guard.get("diverged_epoch")))
    guard_epoch = _scalar(fine.get("guard_epoch"))
    if diverged is None and guard_epoch is not None and guard_epoch >= 0:
        diverged = guard_epoch
    epochs = fine.get("epoch") or []
    if fired:
        if diverged is None and len(epochs):
            diverged = float(epochs[-1])
        if restored is None and diverged is not None:
            restored = diverged - 1.0
        out["finetune_restored"], out["finetune_diverged"] = restored, diverged
    return out


def plot_training_history(
    history: Mapping[str, Mapping[str, Any]], *, axes: Sequence[Axes] | None = None
) -> list[Any]:
    """Four panels: background loss, KL, anomaly E(x) and λ_AA versus epoch (both stages).

    The stage-1 epoch restored by early stopping is marked with a dotted line; when the
    Anomaly Awareness divergence guard fired, the diverged epoch is marked with a cross and
    the restored state with a dash-dotted red line (see :func:`restored_epochs`).

    Parameters
    ----------
    history : mapping
        A detector's ``history_`` (``pretrain`` and optionally ``finetune``).
    axes : sequence of 4 Axes, optional
    """
    if axes is None:
        use_style()
        _, grid = plt.subplots(2, 2, figsize=(12, 9), sharex=True)
        axes = list(grid.ravel())
    pre = history.get("pretrain", {})
    fine = history.get("finetune", {})
    n_pre = len(pre.get("loss", []))
    ep_pre = np.arange(n_pre)
    ep_fine = n_pre + np.arange(len(fine.get("bkg_loss", [])))
    marks = restored_epochs(history)
    artists: list[Any] = []
    panels = [
        (
            "Background loss",
            [
                (ep_pre, pre.get("loss"), "train (stage 1)"),
                (ep_pre, pre.get("val_loss"), "validation (stage 1)"),
                (ep_fine, fine.get("bkg_loss"), "train (AA)"),
                (ep_fine, fine.get("val_bkg_loss"), "validation (AA)"),
            ],
        ),
        ("Background KL", [(ep_pre, pre.get("kl"), "stage 1"), (ep_fine, fine.get("bkg_kl"), "AA")]),
        (r"Anomaly $E(x)$", [(ep_fine, fine.get("anom_error"), "known anomalies")]),
        (r"$\lambda_{AA}$", [(ep_fine, fine.get("lambda"), r"$\lambda_{AA}$")]),
    ]
    for k, (ax, (ylabel, series)) in enumerate(zip(axes, panels, strict=True)):
        for x, y, label in series:
            if y is not None and len(y):
                (line,) = ax.plot(x, y, linewidth=2, label=label)
                artists.append(line)
        if n_pre and len(ep_fine):
            artists.append(ax.axvline(n_pre - 0.5, color="grey", linestyle="--", linewidth=1))
        if marks["pretrain_best"] is not None and n_pre:
            artists.append(
                ax.axvline(
                    marks["pretrain_best"],
                    color="k",
                    linestyle=":",
                    linewidth=1.5,
                    label="kept (best validation)" if k == 0 else None,
                )
            )
        if marks["finetune_restored"] is not None:
            x_restored = n_pre + marks["finetune_restored"]
            restored = int(marks["finetune_restored"])
            text = (
                "guard: restored pretrained state" if restored < 0 else f"guard: restored AA epoch {restored}"
            )
            artists.append(
                ax.axvline(
                    x_restored, color="k", linestyle="-.", linewidth=1.5, label=text if k == 0 else None
                )
            )
            if k == 0 and marks["finetune_diverged"] is not None and fine.get("val_bkg_loss"):
                i = int(marks["finetune_diverged"])
                vals = fine["val_bkg_loss"]
                if 0 <= i < len(vals) and np.isfinite(vals[i]):
                    artists.append(
                        ax.plot(n_pre + i, vals[i], "X", color="k", ms=11, label="guard fired (diverged)")[0]
                    )
        ax.set_ylabel(ylabel)
        spec = ax.get_subplotspec()
        if spec is None or spec.is_last_row():
            ax.set_xlabel("Epoch")
        if ax.get_legend_handles_labels()[1]:
            ax.legend(loc="best", fontsize=10, frameon=False)
    return artists
