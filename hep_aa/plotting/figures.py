"""Figure functions (see the package docstring for the conventions)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)

import matplotlib.pyplot as plt
import mplhep as hep
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from hep_aa.io.artifacts import atomic_path
from hep_aa.metrics.roc import sic_curve

__all__ = [
    "add_label",
    "plot_feature_distributions",
    "plot_latent",
    "plot_mean_images",
    "plot_mjj_sculpting",
    "plot_roc",
    "plot_score_distributions",
    "plot_sic",
    "plot_training_history",
    "save_figure",
    "use_style",
]

EFF_GRID = np.linspace(0.01, 1.0, 199)


def use_style() -> None:
    """Apply the mplhep ROOT-like style used by every hep_aa figure (neutral, no experiment)."""
    plt.style.use(hep.style.ROOT)
    plt.rcParams.update({"figure.figsize": (7.0, 6.0), "legend.fontsize": 13, "axes.labelsize": 18})


def _ax(ax: Axes | None) -> Axes:
    if ax is None:
        use_style()
        _, ax = plt.subplots()
    return ax


def add_label(ax: Axes, label: str = "Simulation", com_tev: float | None = 13.0) -> Any:
    """Experiment-neutral label: ``label`` on the left, √s on the right."""
    rlabel = (
        f"\u221as = {com_tev:g} TeV" if com_tev else ""
    )  # unicode root: mathtext \sqrt lacks a glyph here
    return hep.label.exp_label(exp="", llabel=label, rlabel=rlabel, ax=ax, loc=0)


def save_figure(
    fig: Figure, path_stem: str | os.PathLike[str], formats: Sequence[str] = ("pdf", "png")
) -> list[Path]:
    """Save ``fig`` as ``path_stem.<format>`` for each format (atomically) and close it."""
    stem = Path(path_stem)
    out = []
    for fmt in formats:
        target = stem.with_suffix(f".{fmt}")
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=fmt, dpi=150 if fmt == "png" else None, bbox_inches="tight")
        out.append(target)
    plt.close(fig)
    return out


def plot_score_distributions(
    scores: Mapping[str, np.ndarray],
    *,
    bins: int = 50,
    ax: Axes | None = None,
    xlabel: str = "Anomaly score",
    log: bool = True,
) -> list[Any]:
    """Normalised step histograms of the score of background and each anomaly type.

    Parameters
    ----------
    scores : mapping of label to ndarray
        E.g. ``{"background": s_b, "signal (seen)": s_1, ...}``; ``"background"`` is drawn filled.
    bins : int
        Bins between the 0.1% and 99.9% quantiles of all scores together.
    """
    import hist

    ax = _ax(ax)
    allv = np.concatenate([np.asarray(v, dtype=np.float64) for v in scores.values()])
    lo, hi = np.quantile(allv, [0.001, 0.999])
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    artists = []
    for name, values in scores.items():
        h = hist.Hist(hist.axis.Regular(bins, lo, hi, name="score", label=xlabel))
        h.fill(np.clip(values, lo, hi - 1e-12 * abs(hi)))
        filled = name.startswith("background")
        artists.append(
            hep.histplot(
                h,
                density=True,
                histtype="fill" if filled else "step",
                alpha=0.35 if filled else 1.0,
                linewidth=2,
                label=f"{name} (n={len(values)})",
                yerr=False,
                ax=ax,
            )
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Normalised events")
    if log:
        ax.set_yscale("log")
    _headroom(ax, len(scores))
    ax.legend(loc="upper right", fontsize=11)
    return artists


def _headroom(ax: Axes, n_entries: int) -> None:
    """Raise the top of the y axis so that a legend of ``n_entries`` lines sits above the data."""
    lo, hi = ax.get_ylim()
    frac = min(0.08 * (n_entries + 1), 0.6)  # fraction of the axis height the legend needs
    if ax.get_yscale() == "log":
        lo = max(lo, 1e-12)
        span = np.log10(hi) - np.log10(lo)
        ax.set_ylim(lo, 10 ** (np.log10(lo) + span / (1 - frac)))
    else:
        ax.set_ylim(lo, lo + (hi - lo) / (1 - frac))


def _curves_on_grid(
    curves: Sequence[tuple[np.ndarray, np.ndarray]], kind: str, n_background: int
) -> np.ndarray:
    rows = []
    for eps_s, eps_b in curves:
        if kind == "roc":
            with np.errstate(divide="ignore"):
                y = np.where(eps_b > 0, 1.0 / np.maximum(eps_b, 1e-300), np.nan)
            rows.append(
                np.interp(EFF_GRID, eps_s, np.nan_to_num(y, nan=np.nanmax(y[np.isfinite(y)], initial=1.0)))
            )
        else:
            s, sic = sic_curve(eps_s, eps_b, n_background)
            row = np.full(EFF_GRID.shape, np.nan)
            if s.size > 1:
                inside = (s.min() <= EFF_GRID) & (s.max() >= EFF_GRID)
                row[inside] = np.interp(EFF_GRID[inside], s, sic)
            rows.append(row)
    return np.array(rows)


def _plot_curves(
    curves: Mapping[str, Sequence[tuple[np.ndarray, np.ndarray]]],
    kind: str,
    n_background: Mapping[str, int] | int,
    ax: Axes,
) -> list[Any]:
    artists = []
    for i, (name, per_seed) in enumerate(curves.items()):
        nb = n_background if isinstance(n_background, int) else n_background[name]
        grid = _curves_on_grid(per_seed, kind, nb)
        color = f"C{i}"
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns outside the SIC range
                med = np.nanmedian(grid, axis=0)
                lo, hi = np.nanpercentile(grid, [16, 84], axis=0)
        label = name if len(per_seed) == 1 else f"{name} (median, 68% band of {len(per_seed)} seeds)"
        (line,) = ax.plot(EFF_GRID, med, color=color, linewidth=2, label=label)
        artists.append(line)
        if len(per_seed) > 1:
            artists.append(ax.fill_between(EFF_GRID, lo, hi, color=color, alpha=0.25, linewidth=0))
    return artists


def plot_roc(
    curves: Mapping[str, Sequence[tuple[np.ndarray, np.ndarray]]],
    *,
    ax: Axes | None = None,
    random: bool = True,
) -> list[Any]:
    """ROC curves in the HEP convention: 1/ε_B (log) versus ε_S, median and 68% band over seeds.

    Parameters
    ----------
    curves : mapping of label to list of (eps_s, eps_b)
        One (eps_s, eps_b) pair (from :func:`hep_aa.metrics.roc_curve`) per seed.
    random : bool
        Also draw the random classifier, 1/ε_B = 1/ε_S.
    """
    ax = _ax(ax)
    artists = _plot_curves(curves, "roc", 0, ax)
    if random:
        (line,) = ax.plot(EFF_GRID, 1.0 / EFF_GRID, "k:", label="random")
        artists.append(line)
    ax.set_yscale("log")
    ax.set_ylim(bottom=0.8)
    _finish_efficiency_axes(ax, r"Background rejection $1/\varepsilon_B$", len(curves) + 1)
    return artists


def _finish_efficiency_axes(ax: Axes, ylabel: str, n_entries: int) -> None:
    """x = ε_S in [0, 1], y label, legend headroom and legend, shared by ROC and SIC."""
    ax.set_xlim(0, 1)
    ax.set_xlabel(r"Signal efficiency $\varepsilon_S$")
    ax.set_ylabel(ylabel)
    _headroom(ax, n_entries)
    ax.legend(loc="upper right", fontsize=11)


def plot_sic(
    curves: Mapping[str, Sequence[tuple[np.ndarray, np.ndarray]]],
    n_background: Mapping[str, int] | int,
    *,
    ax: Axes | None = None,
) -> list[Any]:
    """SIC ε_S/√ε_B versus ε_S (points with < 25 background events dropped), seed bands."""
    ax = _ax(ax)
    artists = _plot_curves(curves, "sic", n_background, ax)
    (line,) = ax.plot(EFF_GRID, np.sqrt(EFF_GRID), "k:", label="random")
    artists.append(line)
    ax.set_ylim(bottom=0)
    _finish_efficiency_axes(ax, r"SIC $\varepsilon_S/\varepsilon_B^{1/2}$", len(curves) + 1)
    return artists


def plot_training_history(
    history: Mapping[str, Mapping[str, list[float]]], *, axes: Sequence[Axes] | None = None
) -> list[Any]:
    """Four panels: background loss, KL, anomaly E(x) and λ_AA versus epoch (both stages).

    Parameters
    ----------
    history : mapping
        A detector's ``history_`` (``pretrain`` and optionally ``finetune``).
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
    for ax, (ylabel, series) in zip(axes, panels, strict=True):
        for x, y, label in series:
            if y is not None and len(y):
                (line,) = ax.plot(x, y, linewidth=2, label=label)
                artists.append(line)
        if n_pre and len(ep_fine):
            artists.append(ax.axvline(n_pre - 0.5, color="grey", linestyle="--", linewidth=1))
        ax.set_ylabel(ylabel)
        ax.set_xlabel("Epoch")
        if ax.lines:
            ax.legend(loc="best", fontsize=11)
    return artists


def plot_latent(
    latent: Mapping[str, np.ndarray], *, ax: Axes | None = None, max_points: int = 2000, seed: int = 0
) -> list[Any]:
    """2D projection of the latent means μ: the first two principal components of all points.

    Parameters
    ----------
    latent : mapping of label to ndarray of shape (n, latent_dim)
    """
    ax = _ax(ax)
    allv = np.vstack(list(latent.values()))
    center = allv.mean(axis=0)
    if allv.shape[1] >= 2:
        _, _, vt = np.linalg.svd(allv - center, full_matrices=False)
        basis = vt[:2].T
    else:
        basis = np.eye(allv.shape[1], 2)
    rng = np.random.default_rng(seed)
    artists = []
    for i, (name, mu) in enumerate(latent.items()):
        pts = (mu - center) @ basis
        if len(pts) > max_points:
            pts = pts[rng.choice(len(pts), max_points, replace=False)]
        artists.append(
            ax.scatter(pts[:, 0], pts[:, 1], s=4, alpha=0.5, color=f"C{i}", label=name, rasterized=True)
        )
    ax.set_xlabel(r"Latent PC 1 of $\mu$")
    ax.set_ylabel(r"Latent PC 2 of $\mu$")
    _headroom(ax, len(latent))
    ax.legend(loc="upper right", markerscale=4, fontsize=11)
    return artists


def plot_mjj_sculpting(
    mjj_gev: np.ndarray,
    scores: np.ndarray,
    *,
    background_efficiency: float = 0.1,
    bins: int = 30,
    ax: Axes | None = None,
) -> list[Any]:
    """Background m_jj before and after a score cut at fixed ε_B (mass-sculpting check).

    Both histograms are normalised to unit area, so a flat ratio means no sculpting.
    """
    import hist

    ax = _ax(ax)
    mjj = np.asarray(mjj_gev) / 1e3
    cut = np.quantile(scores, 1.0 - background_efficiency)
    lo, hi = np.quantile(mjj, [0.001, 0.999])
    artists = []
    for values, label in (
        (mjj, "background, no cut"),
        (mjj[scores > cut], rf"background, score cut at $\varepsilon_B$ = {background_efficiency:g}"),
    ):
        h = hist.Hist(hist.axis.Regular(bins, lo, hi, name="mjj", label=r"$m_{jj}$ [TeV]"))
        h.fill(values)
        artists.append(
            hep.histplot(h, density=True, histtype="step", linewidth=2, yerr=True, label=label, ax=ax)
        )
    ax.set_xlabel(r"$m_{jj}$ [TeV]")
    ax.set_ylabel("Normalised events / bin")
    ax.set_yscale("log")
    _headroom(ax, 2)
    ax.legend(loc="upper right", fontsize=11)
    return artists


def plot_mean_images(
    images: np.ndarray,
    groups: Mapping[str, np.ndarray],
    *,
    axes: Sequence[Axes] | None = None,
    side: int = 28,
) -> list[Any]:
    """Mean image of each group of events (for image inputs, instead of 784 histograms)."""
    if axes is None:
        use_style()
        _, grid = plt.subplots(1, len(groups), figsize=(3.2 * len(groups), 3.8), squeeze=False)
        axes = list(grid.ravel())
    artists = []
    for ax, (label, mask) in zip(axes, groups.items(), strict=False):
        mean = images[mask].mean(axis=0).reshape(side, side) if mask.any() else np.zeros((side, side))
        artists.append(ax.imshow(mean, cmap="Greys", vmin=0.0, vmax=1.0))
        ax.set_title(f"{label}\n(n={int(mask.sum())})", fontsize=12)
        ax.set_xticks([])
        ax.set_yticks([])
    return artists


def plot_feature_distributions(
    features: np.ndarray,
    names: Sequence[str],
    groups: Mapping[str, np.ndarray],
    *,
    axes: Sequence[Axes] | None = None,
    bins: int = 40,
    units: str = "",
) -> list[Any]:
    """Normalised distributions of each input feature for each group of events (one panel each).

    Parameters
    ----------
    features : ndarray of shape (n_events, n_features)
    names : feature names (axis labels; ``units`` is appended to mass-like names)
    groups : mapping of label to boolean mask over events
    """
    n = len(names)
    if axes is None:
        use_style()
        cols = min(n, 3)
        rows = int(np.ceil(n / cols))
        _, grid = plt.subplots(rows, cols, figsize=(5.5 * cols, 4.5 * rows), squeeze=False)
        axes = list(grid.ravel())
        for extra in axes[n:]:
            extra.set_visible(False)
    artists = []
    for j, (ax, name) in enumerate(zip(axes, names, strict=False)):
        col = features[:, j]
        lo, hi = np.quantile(col, [0.002, 0.998])
        edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
        for i, (label, mask) in enumerate(groups.items()):
            if mask.any():
                counts, _ = np.histogram(np.clip(col[mask], edges[0], edges[-1]), edges, density=True)
                artists.append(
                    hep.histplot(
                        counts, edges, histtype="step", linewidth=1.8, color=f"C{i}", label=label, ax=ax
                    )
                )
        unit = (
            f" [{units}]" if units and (name.startswith(("m", "delta_m", "p")) and "tau" not in name) else ""
        )
        ax.set_xlabel(name + unit, fontsize=14)
        ax.set_ylabel("Normalised", fontsize=14)
        if j == 0:
            ax.legend(fontsize=10, loc="best")
    return artists
