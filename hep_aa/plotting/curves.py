"""ROC and SIC curves with a seed band and a statistical (bootstrap) band.

Curves are put on a common grid of ε_S by interpolating ε_B linearly between the thresholds of
each ROC curve; the rejection 1/ε_B and the SIC ε_S/√ε_B follow from it. The y range is set by
the statistics of the test sample: with N_B background events 1/ε_B cannot be measured above
N_B, so where no background event passes the cut the curve is drawn dotted at N_B (a lower
limit), and the axis stops just above N_B. SIC points with fewer than 25 passing background
events (relative error of ε_B above 20%) are dropped, as in :func:`hep_aa.metrics.roc.sic_curve`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from hep_aa.features.registry import dataset_info
from hep_aa.metrics.roc import min_background_count, roc_curve
from hep_aa.plotting.style import legend, new_axes, palette

__all__ = ["EFF_GRID", "bootstrap_band", "efficiency_grid", "plot_roc", "plot_sic"]

#: ε_S grid on which curves of different seeds are compared
EFF_GRID = np.linspace(0.01, 1.0, 199)

Curves = Mapping[str, Sequence[tuple[np.ndarray, np.ndarray]]]
Scores = Mapping[str, tuple[np.ndarray, np.ndarray]]


def efficiency_grid(eps_s: np.ndarray, eps_b: np.ndarray, grid: np.ndarray = EFF_GRID) -> np.ndarray:
    """ε_B at each ε_S of ``grid``, linear between the ROC points (ties kept as steps)."""
    eps_s = np.asarray(eps_s, dtype=np.float64)
    eps_b = np.asarray(eps_b, dtype=np.float64)
    # ε_S is non-decreasing; where it repeats (thresholds passing background only) np.interp
    # takes a vertical step, as the ROC curve does
    return np.interp(grid, eps_s, eps_b)


def _values(eps_b: np.ndarray, kind: str, n_background: int, grid: np.ndarray = EFF_GRID) -> np.ndarray:
    """Rejection (capped at N_B) or SIC (NaN where fewer than 25 background events pass)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "roc":
            floor = 1.0 / n_background if n_background > 0 else 1e-300
            return 1.0 / np.maximum(eps_b, floor)
        reliable = eps_b * n_background >= min_background_count(0.2) - 1e-9
        return np.where(reliable, grid / np.sqrt(eps_b), np.nan)


def _percentiles(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns outside the SIC range
        med = np.nanmedian(rows, axis=0)
        lo, hi = np.nanpercentile(rows, [16, 84], axis=0)
    return med, lo, hi


def bootstrap_band(
    background: np.ndarray,
    signal: np.ndarray,
    kind: str = "roc",
    *,
    n_bootstrap: int = 100,
    seed: int = 0,
    grid: np.ndarray = EFF_GRID,
) -> tuple[np.ndarray, np.ndarray]:
    """68% statistical band (16th-84th percentile) of the rejection or SIC of one score sample.

    Both classes are resampled with replacement ``n_bootstrap`` times (the same resampling as
    :func:`hep_aa.metrics.roc.auc_bootstrap`), so the band shows the test-sample statistics
    alone, beside the seed band that shows the training variance.

    Parameters
    ----------
    background, signal : ndarray of shape (n_bkg,), (n_sig,)
        Scores of one seed.
    kind : {"roc", "sic"}

    Returns
    -------
    low, high : ndarray of shape (len(grid),)
    """
    b = np.asarray(background, dtype=np.float64)
    s = np.asarray(signal, dtype=np.float64)
    rng = np.random.default_rng(seed)
    rows = np.empty((n_bootstrap, len(grid)))
    for i in range(n_bootstrap):
        eps_s, eps_b, _ = roc_curve(rng.choice(b, b.size), rng.choice(s, s.size))
        rows[i] = _values(efficiency_grid(eps_s, eps_b, grid), kind, b.size, grid)
    _, lo, hi = _percentiles(rows)
    return lo, hi


def _segments(x: np.ndarray, y: np.ndarray, mask: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Runs of consecutive points where ``mask`` holds (each extended by one point to join)."""
    out = []
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return out
    breaks = np.flatnonzero(np.diff(idx) > 1)
    for run in np.split(idx, breaks + 1):
        stop = min(run[-1] + 2, len(x))
        out.append((x[run[0] : stop], y[run[0] : stop]))
    return out


def _plot_curves(
    curves: Curves,
    kind: str,
    n_background: Mapping[str, int] | int,
    ax: Axes,
    scores: Scores | None,
    n_bootstrap: int,
) -> tuple[list[Any], list[Any], list[str], dict[str, Any]]:
    artists: list[Any] = []
    handles: list[Any] = []
    labels: list[str] = []
    info: dict[str, Any] = {"n_seeds": 0, "limited": False, "stat": False, "n_background": []}
    colours = palette(len(curves))
    for i, (name, per_seed) in enumerate(curves.items()):
        nb = n_background if isinstance(n_background, int) else n_background[name]
        info["n_background"].append(nb)
        rows = np.array([_values(efficiency_grid(s, b), kind, nb) for s, b in per_seed])
        med, lo, hi = _percentiles(rows)
        color = colours[i]
        if kind == "roc":
            limited = med >= nb * (1 - 1e-9)  # at least half of the seeds: no background passes
            (line,) = ax.plot(EFF_GRID, np.where(limited, np.nan, med), color=color, linewidth=2)
            for xs, ys in _segments(EFF_GRID, med, limited):
                artists.append(ax.plot(xs, ys, color=color, linewidth=2, linestyle=":")[0])
                info["limited"] = True
        else:
            (line,) = ax.plot(EFF_GRID, med, color=color, linewidth=2)
        artists.append(line)
        handles.append(line)
        labels.append(name)
        if len(per_seed) > 1:
            artists.append(ax.fill_between(EFF_GRID, lo, hi, color=color, alpha=0.25, linewidth=0))
            info["n_seeds"] = max(info["n_seeds"], len(per_seed))
        if scores is not None and name in scores and n_bootstrap > 0:
            b, s = scores[name]
            slo, shi = bootstrap_band(b, s, kind, n_bootstrap=n_bootstrap, seed=i)
            artists.append(
                ax.fill_between(
                    EFF_GRID,
                    slo,
                    shi,
                    facecolor="none",
                    edgecolor=color,
                    hatch="///",
                    linewidth=0,
                    alpha=0.45,
                )
            )
            info["stat"] = True
    return artists, handles, labels, info


def _band_legend(info: dict[str, Any], kind: str) -> tuple[list[Any], list[str]]:
    """Legend entries explaining the bands once (not once per method)."""
    handles: list[Any] = []
    labels: list[str] = []
    if info["n_seeds"] > 1:
        handles.append(Patch(facecolor="grey", alpha=0.35, linewidth=0))
        labels.append(f"median and 68% band of {info['n_seeds']} seeds")
    if info["stat"]:
        handles.append(Patch(facecolor="none", edgecolor="grey", hatch="///", linewidth=0))
        labels.append("68% bootstrap band (test statistics)")
    if info["limited"]:
        handles.append(Line2D([], [], color="grey", linestyle=":", linewidth=2))
        labels.append(r"no background passes: $1/\varepsilon_B > N_B$")
    return handles, labels


def plot_roc(
    curves: Curves,
    *,
    n_background: Mapping[str, int] | int | None = None,
    scores: Scores | None = None,
    n_bootstrap: int = 100,
    dataset: str | None = None,
    title: str | None = None,
    ax: Axes | None = None,
    random: bool = True,
) -> list[Any]:
    """ROC curves in the HEP convention: 1/ε_B (log) versus ε_S, median and 68% band over seeds.

    Parameters
    ----------
    curves : mapping of label to list of (eps_s, eps_b)
        One (eps_s, eps_b) pair (from :func:`hep_aa.metrics.roc_curve`) per seed.
    n_background : int or mapping of label to int, optional
        Test background events N_B: caps the rejection at N_B (dotted where no background
        passes) and ends the y axis there. Without it the largest finite 1/ε_B is used.
    scores : mapping of label to (background scores, signal scores), optional
        Scores of one seed per method: adds the hatched 68% bootstrap band.
    dataset : str, optional
        Dataset name for the axis wording (:func:`hep_aa.features.registry.dataset_info`).
    title : str, optional
        Legend title, e.g. the physics name of the anomaly type.
    random : bool
        Also draw the random classifier, 1/ε_B = 1/ε_S.

    Returns
    -------
    list of matplotlib artists
        Median lines (and dotted limit segments), seed bands, bootstrap bands, random line.
    """
    ax = new_axes(ax)
    if n_background is None:
        n_background = int(
            max(
                1.0 / np.min(b[b > 0]) if np.any(b > 0) else 1.0
                for per_seed in curves.values()
                for _, b in per_seed
            )
        )
    artists, handles, labels, info = _plot_curves(curves, "roc", n_background, ax, scores, n_bootstrap)
    if random:
        (line,) = ax.plot(EFF_GRID, 1.0 / EFF_GRID, "k:", linewidth=1.5)
        artists.append(line)
        handles.append(line)
        labels.append("random")
    n_max = max(info["n_background"])
    ax.set_yscale("log")
    ax.set_ylim(0.8, n_max * 2.0)
    ax.axhline(n_max, color="grey", linewidth=0.8, linestyle="--")
    ax.annotate(
        f"$N_B$ = {n_max:,} test background events",
        (0.98, n_max),
        xycoords=("axes fraction", "data"),
        xytext=(0, 5),
        textcoords="offset points",
        ha="right",
        fontsize=11,
        color="grey",
    )
    info_d = dataset_info(dataset)
    ax.set_xlim(0, 1)
    ax.set_xlabel(info_d.signal_efficiency_label)
    ax.set_ylabel(info_d.rejection_label)
    extra_h, extra_l = _band_legend(info, "roc")
    legend(ax, handles=handles + extra_h, labels=labels + extra_l, title=title)
    return artists


def plot_sic(
    curves: Curves,
    n_background: Mapping[str, int] | int,
    *,
    scores: Scores | None = None,
    n_bootstrap: int = 100,
    dataset: str | None = None,
    title: str | None = None,
    ax: Axes | None = None,
) -> list[Any]:
    """SIC ε_S/√ε_B versus ε_S with seed bands (and bootstrap bands with ``scores``).

    Points with fewer than 25 passing background events are dropped (see module docstring).
    Parameters as in :func:`plot_roc`.
    """
    ax = new_axes(ax)
    artists, handles, labels, info = _plot_curves(curves, "sic", n_background, ax, scores, n_bootstrap)
    (line,) = ax.plot(EFF_GRID, np.sqrt(EFF_GRID), "k:", linewidth=1.5)
    artists.append(line)
    handles.append(line)
    labels.append("random")
    ax.set_ylim(bottom=0)
    info_d = dataset_info(dataset)
    ax.set_xlim(0, 1)
    ax.set_xlabel(info_d.signal_efficiency_label)
    ax.set_ylabel(info_d.sic_label)
    extra_h, extra_l = _band_legend(info, "sic")
    legend(ax, handles=handles + extra_h, labels=labels + extra_l, title=title)
    return artists
