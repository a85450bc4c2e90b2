"""ROC and SIC curves with a seed band and a statistical (bootstrap) band.

Curves are put on a common grid of ε_S by interpolating ε_B linearly between the thresholds of
each ROC curve; the rejection 1/ε_B and the SIC ε_S/√ε_B follow from it. The y range is set by
the statistics of the test sample: with N_B background events 1/ε_B cannot be measured above
N_B, so where no background event passes the cut the curve is drawn dotted at N_B (a lower
limit), and the axis stops just above N_B. SIC points with fewer than 25 passing background
events (relative error of ε_B above 20%) are dropped, as in :func:`hep_aa.metrics.roc.sic_curve`.

Weighted events (negative weights allowed): the curves come from weighted ROC curves, the
bootstrap resamples events with their weights, and N_B is the effective number of background
events (Σw)²/Σw², so the cap and the 25-event SIC guard count effective events (on the grid,
ε_B·N_B^eff estimates the effective number passing). With negative weights ε_S may decrease
along the thresholds; the grid then uses its running maximum, i.e. ε_B at the first threshold
reaching each ε_S, as :func:`hep_aa.metrics.roc.rejection_at_signal_efficiency` does.
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
from hep_aa.metrics.roc import effective_count, min_background_count, roc_curve
from hep_aa.plotting.style import legend, new_axes, palette

__all__ = ["EFF_GRID", "bootstrap_band", "efficiency_grid", "plot_roc", "plot_sic"]

#: ε_S grid on which curves of different seeds are compared
EFF_GRID = np.linspace(0.01, 1.0, 199)

Curves = Mapping[str, Sequence[tuple[np.ndarray, np.ndarray]]]
#: per label: (background scores, signal scores) or (..., background weights, signal weights)
Scores = Mapping[str, tuple[np.ndarray, ...]]


def efficiency_grid(eps_s: np.ndarray, eps_b: np.ndarray, grid: np.ndarray = EFF_GRID) -> np.ndarray:
    """ε_B at each ε_S of ``grid``, linear between the ROC points (ties kept as steps).

    A non-monotonic ε_S (negative weights) is replaced by its running maximum.
    """
    eps_s = np.maximum.accumulate(np.asarray(eps_s, dtype=np.float64))
    eps_b = np.asarray(eps_b, dtype=np.float64)
    # ε_S is non-decreasing; where it repeats (thresholds passing background only) np.interp
    # takes a vertical step, as the ROC curve does
    return np.interp(grid, eps_s, eps_b)


def _values(eps_b: np.ndarray, kind: str, n_background: float, grid: np.ndarray = EFF_GRID) -> np.ndarray:
    """Rejection (capped at N_B) or SIC (NaN where fewer than 25 background events pass).

    ``n_background`` is the (effective) number of background events."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "roc":
            floor = 1.0 / n_background if n_background > 0 else 1e-300
            return 1.0 / np.maximum(eps_b, floor)
        reliable = (eps_b * n_background >= min_background_count(0.2) - 1e-9) & (eps_b > 0)
        return np.where(reliable, grid / np.sqrt(np.where(eps_b > 0, eps_b, 1.0)), np.nan)


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
    background_weights: np.ndarray | None = None,
    signal_weights: np.ndarray | None = None,
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
    background_weights, signal_weights : ndarray, optional
        Per-event weights (negative allowed): events are resampled with their weights, and a
        resample whose class weight sums to ≤ 0 is left out.

    Returns
    -------
    low, high : ndarray of shape (len(grid),)
    """
    b = np.asarray(background, dtype=np.float64)
    s = np.asarray(signal, dtype=np.float64)
    weighted = background_weights is not None or signal_weights is not None
    wb = np.ones(b.size) if background_weights is None else np.asarray(background_weights, np.float64)
    ws = np.ones(s.size) if signal_weights is None else np.asarray(signal_weights, np.float64)
    n_b = effective_count(wb) if weighted else b.size
    rng = np.random.default_rng(seed)
    rows = np.full((n_bootstrap, len(grid)), np.nan)
    for i in range(n_bootstrap):
        ib, is_ = rng.choice(b.size, b.size), rng.choice(s.size, s.size)
        if not weighted:
            eps_s, eps_b, _ = roc_curve(b[ib], s[is_])
        elif wb[ib].sum() > 0 and ws[is_].sum() > 0:
            eps_s, eps_b, _ = roc_curve(b[ib], s[is_], background_weights=wb[ib], signal_weights=ws[is_])
        else:
            continue
        rows[i] = _values(efficiency_grid(eps_s, eps_b, grid), kind, n_b, grid)
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
    n_background: Mapping[str, float] | float,
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
        nb = n_background[name] if isinstance(n_background, Mapping) else n_background
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
            b, s, *w = scores[name]
            wb, ws = w if w else (None, None)
            slo, shi = bootstrap_band(
                b, s, kind, background_weights=wb, signal_weights=ws, n_bootstrap=n_bootstrap, seed=i
            )
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
        labels.append(
            r"beyond the test statistics: $1/\varepsilon_B > N_B^\mathrm{eff}$"
            if info.get("weighted")
            else r"no background passes: $1/\varepsilon_B > N_B$"
        )
    return handles, labels


def plot_roc(
    curves: Curves,
    *,
    n_background: Mapping[str, float] | float | None = None,
    scores: Scores | None = None,
    n_bootstrap: int = 100,
    dataset: str | None = None,
    title: str | None = None,
    ax: Axes | None = None,
    random: bool = True,
    weighted: bool = False,
) -> list[Any]:
    """ROC curves in the HEP convention: 1/ε_B (log) versus ε_S, median and 68% band over seeds.

    Parameters
    ----------
    curves : mapping of label to list of (eps_s, eps_b)
        One (eps_s, eps_b) pair (from :func:`hep_aa.metrics.roc_curve`) per seed.
    n_background : float or mapping of label to float, optional
        Test background events N_B (for weighted events the effective number (Σw)²/Σw²):
        caps the rejection at N_B (dotted where no background passes) and ends the y axis
        there. Without it the largest finite 1/ε_B is used.
    scores : mapping of label to (background scores, signal scores[, background weights, signal weights]), optional
        Scores (and weights) of one seed per method: adds the hatched 68% bootstrap band.
    dataset : str, optional
        Dataset name for the axis wording (:func:`hep_aa.features.registry.dataset_info`).
    title : str, optional
        Legend title, e.g. the physics name of the anomaly type.
    random : bool
        Also draw the random classifier, 1/ε_B = 1/ε_S.
    weighted : bool
        The curves are of weighted events: N_B is labelled as an effective number.

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
        (
            rf"effective $N_B = (\sum w)^2/\sum w^2$ = {n_max:,.0f}"
            if weighted
            else f"$N_B$ = {n_max:,.0f} test background events"
        ),
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
    info["weighted"] = weighted
    extra_h, extra_l = _band_legend(info, "roc")
    legend(ax, handles=handles + extra_h, labels=labels + extra_l, title=title)
    return artists


def plot_sic(
    curves: Curves,
    n_background: Mapping[str, float] | float,
    *,
    scores: Scores | None = None,
    n_bootstrap: int = 100,
    dataset: str | None = None,
    title: str | None = None,
    ax: Axes | None = None,
    weighted: bool = False,
) -> list[Any]:
    """SIC ε_S/√ε_B versus ε_S with seed bands (and bootstrap bands with ``scores``).

    Points with fewer than 25 passing background events are dropped (see module docstring).
    Parameters as in :func:`plot_roc`.
    """
    ax = new_axes(ax)
    artists, handles, labels, info = _plot_curves(curves, "sic", n_background, ax, scores, n_bootstrap)
    if handles and all(np.count_nonzero(np.isfinite(h.get_ydata())) < 2 for h in handles):
        # no line to draw (at most one reliable point): say why instead of leaving a blank frame
        events = "effective background events" if weighted else "background events"
        ax.text(
            0.62,
            0.2,
            f"fewer than {min_background_count(0.2):.0f} {events} pass\nat every signal "
            "efficiency: SIC not measurable\nwith this test sample",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=13,
            color="grey",
        )
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
