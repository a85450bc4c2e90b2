"""Distributions: anomaly scores, input features, the m_jj sculpting check, mean images,
latent projections and cutflows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import matplotlib.pyplot as plt
import mplhep as hep
import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import NullFormatter

from hep_aa.exceptions import DataFormatError
from hep_aa.features.registry import cutflow_histogram, feature
from hep_aa.plotting.style import headroom, legend, new_axes, palette, use_style

__all__ = [
    "plot_cutflow",
    "plot_feature_distributions",
    "plot_latent",
    "plot_mean_images",
    "plot_mjj_sculpting",
    "plot_score_distributions",
    "score_binning",
]


def score_binning(values: np.ndarray, bins: int = 50, binning: str = "auto") -> tuple[str, np.ndarray]:
    """Bin edges for score histograms that resolve heavy tails.

    Parameters
    ----------
    values : ndarray
        All scores to be histogrammed together (every class).
    binning : {"auto", "log", "quantile", "linear"}
        ``log``: logarithmic bins from the smallest to the largest score (positive scores
        only), drawn on a log x axis. ``quantile``: edges at equal-count quantiles of all
        scores between the 0.1% and 99.9% quantiles. ``linear``: equal widths over that range.
        ``auto`` picks ``log`` for positive scores spanning more than a decade (a
        reconstruction error with a tail), else ``quantile`` when one equal-width bin would
        hold more than 30% of the events, else ``linear``.

    Returns
    -------
    binning : str
        The binning used.
    edges : ndarray of shape (n_edges,)
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    lo, hi = np.quantile(v, [0.001, 0.999]) if v.size else (0.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    if binning == "auto":
        if v.size and v.min() > 0 and hi / lo > 10.0:
            binning = "log"
        else:
            counts, _ = np.histogram(np.clip(v, lo, hi), np.linspace(lo, hi, bins + 1))
            binning = "quantile" if v.size and counts.max() > 0.3 * v.size else "linear"
    if binning == "log":
        if v.size == 0 or v.min() <= 0:
            raise ValueError("log binning needs positive scores; use binning='quantile'")
        return binning, np.geomspace(v.min(), v.max() * (1 + 1e-9), bins + 1)
    if binning == "quantile":
        edges = np.unique(np.quantile(np.clip(v, lo, hi), np.linspace(0.0, 1.0, bins + 1)))
        if edges.size >= 3:
            return binning, edges
        binning = "linear"
    if binning == "linear":
        return binning, np.linspace(lo, hi, bins + 1)
    raise ValueError(f"unknown binning {binning!r}; use auto, log, quantile or linear")


def plot_score_distributions(
    scores: Mapping[str, np.ndarray],
    *,
    bins: int | None = None,
    binning: str = "auto",
    ax: Axes | None = None,
    xlabel: str = "Anomaly score",
    log: bool = True,
    title: str | None = None,
    weights: Mapping[str, np.ndarray] | None = None,
) -> list[Any]:
    """Unit-area step histograms (probability densities) of the score of each class.

    Parameters
    ----------
    scores : mapping of label to ndarray
        E.g. ``{"background": s_b, "signal (seen)": s_1, ...}``; the first label starting with
        ``"background"`` (else the first entry, the normal class) is drawn filled in grey.
    bins, binning
        See :func:`score_binning`; ``bins`` defaults to 2·√n of the smallest class (10 to 50). With linear or quantile bins the first and last bins
        include the under- and overflow.
    log : bool
        Log y axis.
    weights : mapping of label to ndarray, optional
        Per-event weights of the classes (negative allowed): the histograms are filled with a
        ``hist`` Weight storage, normalised to the class's total weight Σw, and carry error
        bars √(Σw²) per bin (for the filled class an extra errorbar container on ``ax``); the
        legend gives n and Σw. Classes missing from the mapping have unit weights.

    Returns
    -------
    list of mplhep artists
        One per class. The y axis is the density 1/N dN/ds (1/Σw dW/ds with weights;
        dN/d log10 s for log bins), so a class's histogram has unit area whatever the bin
        widths.
    """
    ax = new_axes(ax)
    allv = np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in scores.values()])
    if bins is None:  # about two bins per sqrt(events) of the smallest class, 10 to 50
        smallest = min((np.size(v) for v in scores.values() if np.size(v)), default=0)
        bins = int(np.clip(2 * np.sqrt(smallest), 10, 50))
    binning, edges = score_binning(allv, bins, binning)
    artists = []
    names = list(scores)
    filled_name = next((k for k in names if k.startswith("background")), names[0] if names else None)
    colours = iter(palette(len(names) - 1, avoid_grey=True))
    import hist

    for name, values in scores.items():
        v = np.asarray(values, dtype=np.float64).ravel()
        w_in = None if weights is None else weights.get(name)
        w = np.ones(v.size) if w_in is None else np.asarray(w_in, dtype=np.float64).ravel()
        if w.shape != v.shape:
            raise ValueError(f"weights of {name!r} have shape {w.shape}, scores {v.shape}")
        if binning == "log":
            x_edges = np.log10(edges)
            x, wx = np.log10(v[v > 0]), w[v > 0]
        else:
            x_edges = edges
            x, wx = np.clip(v, edges[0], edges[-1]), w
        h = hist.Hist(hist.axis.Variable(x_edges), storage=hist.storage.Weight())
        h.fill(x, weight=wx)
        # the clipped extremes sit on the outer edges; fold the flow bins back in (as np.histogram)
        sums, variances = h.values(flow=True), h.variances(flow=True)
        for arr in (sums, variances):
            arr[1] += arr[0]
            arr[-2] += arr[-1]
        sums, variances = sums[1:-1], variances[1:-1]
        total = float(w.sum()) if w_in is not None else float(v.size)
        scale = 1.0 / (total if total > 0 else 1.0) / np.diff(x_edges)
        density = sums * scale
        filled = name == filled_name
        label = f"{name} (n={v.size})" if w_in is None else f"{name} (n={v.size}, Σw={total:.4g})"
        artists.append(
            hep.histplot(
                density,
                edges,
                yerr=np.sqrt(variances) * scale if w_in is not None else False,
                histtype="fill" if filled else "step",
                alpha=0.45 if filled else 1.0,
                linewidth=2,
                color="0.65" if filled else next(colours),
                label=label,
                ax=ax,
            )
        )
        if filled and w_in is not None:  # a filled histogram shows no yerr: draw the bars beside it
            centres = np.sqrt(edges[1:] * edges[:-1]) if binning == "log" else 0.5 * (edges[1:] + edges[:-1])
            ax.errorbar(
                centres, density, yerr=np.sqrt(variances) * scale, fmt="none", ecolor="0.45", elinewidth=1.2
            )
    norm, count = (r"1/\Sigma w", "dW") if weights is not None else ("1/N", "dN")
    if binning == "log":
        ax.set_xscale("log")
        ax.set_ylabel(rf"${norm}\;{count}/d\log_{{10}}s$")
    else:
        ax.set_ylabel(rf"${norm}\;{count}/ds$")
    ax.set_xlim(edges[0], edges[-1])
    ax.set_xlabel(xlabel + " $s$")
    if log:
        ax.set_yscale("log")
        positive = list(ax.get_ylim())
        ax.set_ylim(max(positive[0], 1e-4 * positive[1]), positive[1])
    legend(ax, title=title)
    return artists


def _density_and_error(
    values: np.ndarray, edges: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts (Σw per bin), unit-area density and its error (√N, or √Σw² with weights)."""
    if weights is None:
        counts, _ = np.histogram(values, edges)
        scale = 1.0 / max(len(values), 1) / np.diff(edges)
        return counts, counts * scale, np.sqrt(counts) * scale
    sumw, _ = np.histogram(values, edges, weights=weights)
    sumw2, _ = np.histogram(values, edges, weights=weights * weights)
    total = float(weights.sum())
    scale = 1.0 / (total if total > 0 else 1.0) / np.diff(edges)
    return sumw, sumw * scale, np.sqrt(sumw2) * scale


def _weighted_cut(scores: np.ndarray, weights: np.ndarray, efficiency: float) -> np.ndarray:
    """Events passing the loosest score cut ``s >= cut`` whose weighted efficiency reaches
    ``efficiency`` (scanning from the highest score; ties are never split)."""
    order = np.argsort(-scores, kind="mergesort")
    cum = np.cumsum(weights[order]) / weights.sum()
    reached = np.flatnonzero(cum >= efficiency)
    cut = scores[order][reached[0]] if reached.size else scores.min()
    return scores >= cut


def plot_mjj_sculpting(
    mjj_gev: np.ndarray,
    scores: np.ndarray,
    *,
    background_efficiency: float = 0.1,
    bins: int = 30,
    ax: Axes | None = None,
    rax: Axes | None = None,
    weights: np.ndarray | None = None,
) -> list[Any]:
    """Background m_jj before and after a score cut at fixed ε_B (mass-sculpting check).

    Both histograms have unit area, so a flat ratio means no sculpting. Error bars are the
    Poisson errors of non-empty bins (none on empty bins); the ratio panel shows, per bin with
    background, the fraction passing the cut divided by ε_B, with its 68% Clopper-Pearson
    interval (the selected events are a subset, so the errors are binomial).

    Parameters
    ----------
    mjj_gev, scores : ndarray of shape (n_background,)
        Dijet mass [GeV] and anomaly score of background events.
    ax, rax : Axes, optional
        Main and ratio panels. With neither, a new figure with both is made; with ``ax``
        alone, no ratio panel is drawn.
    weights : ndarray of shape (n_background,), optional
        Per-event weights (negative allowed; the total must be positive). The cut then keeps
        the weighted fraction ε_B, histograms are normalised to Σw with errors √Σw², and the
        ratio's Clopper-Pearson interval uses each bin's effective number of events.
    """
    if ax is None and rax is None:
        use_style()
        _, (ax, rax) = plt.subplots(
            2, 1, figsize=(7.0, 7.0), sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.06}
        )
    ax = new_axes(ax)
    mjj_f = feature("mjj", dataset="lhco", feature_set="community")
    mjj = np.asarray(mjj_gev, dtype=np.float64) / 1e3
    s = np.asarray(scores, dtype=np.float64)
    w = None if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if w is not None and not w.sum() > 0:
        raise DataFormatError(
            f"background weights sum to {w.sum():.4g} (≤ 0): the m_jj check cannot be normalised; "
            "check the weight column"
        )
    if w is None:
        cut = np.quantile(s, 1.0 - background_efficiency)
        passed = s > cut
    else:
        passed = _weighted_cut(s, w, background_efficiency)
    lo, hi = np.quantile(mjj, [0.001, 0.999])
    edges = np.linspace(lo, hi, bins + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    inside = (mjj >= lo) & (mjj <= hi)
    artists: list[Any] = []
    n0, d0, e0 = _density_and_error(mjj[inside], edges, None if w is None else w[inside])
    n1, d1, e1 = _density_and_error(mjj[inside & passed], edges, None if w is None else w[inside & passed])
    eps = passed.mean() if w is None else float(w[passed].sum() / w.sum())
    for i, (n, d, e, label) in enumerate(
        (
            (n0, d0, e0, "background, no cut"),
            (n1, d1, e1, rf"background, score cut at $\varepsilon_B$ = {eps:.2g}"),
        )
    ):
        artists.append(
            hep.histplot(d, edges, histtype="step", linewidth=2, color=f"C{i}", label=label, ax=ax)
        )
        full = n > 0
        artists.append(
            ax.errorbar(centres[full], d[full], yerr=e[full], fmt="none", ecolor=f"C{i}", elinewidth=1.2)
        )
    ax.set_ylabel(mjj_f.density_label)
    ax.set_yscale("log")
    legend(ax)
    if rax is None:
        ax.set_xlabel(mjj_f.axis_label)
        return artists
    ok = n0 > 0
    # per-bin selection efficiency k/n with its 68% Clopper-Pearson interval, divided by the
    # overall efficiency: 1 everywhere means no sculpting. With weights, n is the bin's
    # effective number of events (Σw)²/Σw² and k = (P/T)·n, P and T the passing and total
    # sums of weights (exact for unit weights).
    from scipy.stats import beta

    if w is None:
        k, n = n1[ok].astype(np.float64), n0[ok].astype(np.float64)
        eff = k / n
    else:
        t2, _ = np.histogram(mjj[inside], edges, weights=w[inside] ** 2)
        eff = n1[ok] / n0[ok]
        n = n0[ok] ** 2 / t2[ok]
        k = np.clip(eff, 0.0, 1.0) * n
    low = np.where(k > 0, beta.ppf(0.16, k, n - k + 1), 0.0)
    high = np.where(k < n, beta.ppf(0.84, k + 1, n - k), 1.0)
    low, high = np.minimum(low, eff), np.maximum(high, eff)
    ratio = eff / eps
    yerr = np.vstack([ratio - low / eps, high / eps - ratio])
    artists.append(
        rax.errorbar(
            centres[ok],
            ratio,
            yerr=yerr,
            xerr=np.diff(edges)[ok] / 2,
            fmt="o",
            color="C1",
            ms=4,
            elinewidth=1.2,
        )
    )
    artists.append(rax.axhline(1.0, color="grey", linestyle="--", linewidth=1))
    top = float(np.max(high / eps)) if ok.any() else 2.0
    rax.set_ylim(0, max(2.0, 1.1 * top))
    rax.set_ylabel("Cut / no cut", fontsize=14)
    rax.set_xlabel(mjj_f.axis_label)
    ax.set_xlabel("")
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
    bins: int | None = None,
    dataset: str | None = None,
    feature_set: str | None = None,
    weights: np.ndarray | None = None,
) -> list[Any]:
    """Unit-area distributions of each input feature for each group of events (one panel each).

    Axis labels and units come from :func:`hep_aa.features.registry.feature`; the legend is
    drawn once, above the grid.

    Parameters
    ----------
    features : ndarray of shape (n_events, n_features)
    names : sequence of str
        Column names (registry keys).
    groups : mapping of label to boolean mask over events
    bins : int, optional
        Bins per panel between the 0.5% and 99.5% quantiles (the edge bins hold the under-
        and overflow); default 2·√n of the smallest group, between 10 and 40. A panel whose
        highest bin holds more than 40% of a group, with bins 30 times less populated, gets a
        log y axis.
    dataset, feature_set : str, optional
        Passed to the registry (``mjj`` is GeV per jet pair, TeV in the LHCO community set).
    weights : ndarray of shape (n_events,), optional
        Per-event weights (a feature table's ``weight`` column, negative allowed): each
        group's histogram is then normalised to its sum of weights.
    """
    n = len(names)
    if axes is None:
        use_style()
        cols = min(n, 3)
        rows = int(np.ceil(n / cols))
        _, grid = plt.subplots(
            rows, cols, figsize=(5.5 * cols, 4.6 * rows), squeeze=False, layout="constrained"
        )
        axes = list(grid.ravel())
        for extra in axes[n:]:
            extra.set_visible(False)
    w_all = None if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if w_all is not None:
        for label, mask in groups.items():
            if mask.any() and not w_all[mask].sum() > 0:
                raise DataFormatError(
                    f"events of {label!r} have total weight {w_all[mask].sum():.4g} (≤ 0): their "
                    "distribution cannot be normalised; check the weight column"
                )
    if bins is None:  # about two bins per sqrt(events) of the smallest group, 10 to 40
        smallest = min((int(m.sum()) for m in groups.values() if m.any()), default=0)
        bins = int(np.clip(2 * np.sqrt(smallest), 10, 40))
    artists = []
    for j, (ax, name) in enumerate(zip(axes, names, strict=False)):
        meta = feature(name, dataset=dataset, feature_set=feature_set)
        col = np.asarray(features[:, j], dtype=np.float64)
        lo, hi = np.quantile(col, [0.005, 0.995])
        # large values: a power of ten in the unit instead of matplotlib's offset text, which
        # would collide with the axis label
        big = max(abs(lo), abs(hi))
        exponent = int(np.floor(np.log10(big))) if big >= 1e4 else 0
        if exponent:
            col, lo, hi = col / 10.0**exponent, lo / 10.0**exponent, hi / 10.0**exponent
            meta = replace(meta, unit=f"$10^{{{exponent}}}$ {meta.unit}".strip())
        edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
        peak, lowest = 0.0, 1.0  # largest and smallest non-zero fraction of a group in a bin
        colours = palette(len(groups))
        for i, (label, mask) in enumerate(groups.items()):
            if mask.any():
                counts, _ = np.histogram(
                    np.clip(col[mask], edges[0], edges[-1]),
                    edges,
                    density=True,
                    weights=None if w_all is None else w_all[mask],
                )
                fractions = counts * np.diff(edges)
                peak = max(peak, float(np.max(fractions)))
                if np.any(fractions > 0):
                    lowest = min(lowest, float(np.min(fractions[fractions > 0])))
                artists.append(
                    hep.histplot(
                        counts, edges, histtype="step", linewidth=1.8, color=colours[i], label=label, ax=ax
                    )
                )
        if peak > 0.4 and peak > 30 * lowest:  # a tail beyond the bulk (m_bb of mis-paired jets)
            ax.set_yscale("log")
        ax.set_xlabel(meta.axis_label, fontsize=15)
        ylabel = meta.density_label
        if w_all is not None:  # 1/N dN/dx -> 1/Σw dW/dx
            ylabel = ylabel.replace(r"$1/N\;dN/d", r"$1/\Sigma w\;dW/d", 1)
        ax.set_ylabel(ylabel, fontsize=15)
        ax.set_xlim(edges[0], edges[-1])
    if n:
        handles, labels = axes[0].get_legend_handles_labels()
        fig = axes[0].figure
        constrained = fig.get_layout_engine() is not None
        fig.legend(
            handles,
            labels,
            loc="outside upper center" if constrained else "lower center",
            bbox_to_anchor=None if constrained else (0.5, 1.0),
            ncol=min(len(labels), 4),
            fontsize=14,
            frameon=False,
        )
    return artists


def plot_latent(
    latent: Mapping[str, np.ndarray], *, ax: Axes | None = None, max_points: int = 2000, seed: int = 0
) -> list[Any]:
    """2D projection of the latent means μ: the first two principal components of all points.

    Parameters
    ----------
    latent : mapping of label to ndarray of shape (n, latent_dim)
    """
    ax = new_axes(ax)
    allv = np.vstack(list(latent.values()))
    center = allv.mean(axis=0)
    if allv.shape[1] >= 2:
        _, _, vt = np.linalg.svd(allv - center, full_matrices=False)
        basis = vt[:2].T
    else:
        basis = np.eye(allv.shape[1], 2)
    rng = np.random.default_rng(seed)
    artists = []
    colours = palette(len(latent))
    for i, (name, mu) in enumerate(latent.items()):
        pts = (mu - center) @ basis
        if len(pts) > max_points:
            pts = pts[rng.choice(len(pts), max_points, replace=False)]
        artists.append(
            ax.scatter(pts[:, 0], pts[:, 1], s=4, alpha=0.5, color=colours[i], label=name, rasterized=True)
        )
    ax.set_xlabel(r"Latent PC 1 of $\mu$")
    ax.set_ylabel(r"Latent PC 2 of $\mu$")
    legend(ax, markerscale=4)
    return artists


def plot_cutflow(steps: Mapping[str, float] | Any, *, ax: Axes | None = None) -> list[Any]:
    """Events after each selection step (bars, log y) with the step efficiency printed on each.

    Parameters
    ----------
    steps : mapping of str to float, or a one-axis ``StrCategory`` hist
        As accepted by :func:`hep_aa.features.registry.cutflow_histogram`.
    """
    ax = new_axes(ax)
    h = cutflow_histogram(steps)
    labels = [str(x) for x in h.axes[0]]
    values = h.values()
    x = np.arange(len(labels))
    bars = ax.bar(x, values, width=0.7, color="C0", alpha=0.7, edgecolor="C0")
    for i, v in enumerate(values):
        text = f"{v:,.0f}" if i == 0 or values[i - 1] <= 0 else f"{v:,.0f}\n({v / values[i - 1]:.1%})"
        ax.annotate(text, (i, v), xytext=(0, 3), textcoords="offset points", ha="center", fontsize=10)
    ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=12)
    ax.minorticks_off()
    ax.set_ylabel("Events")
    ax.set_yscale("log")
    ax.yaxis.set_minor_formatter(NullFormatter())  # decades only: minor labels crowd a short range
    lo = max(float(values.min()), 1.0) if values.size else 1.0
    hi = float(values.max()) if values.size else 1.0
    ax.set_ylim(10 ** np.floor(np.log10(lo * 0.5)), 10 ** np.ceil(np.log10(hi * 3)))  # whole decades
    headroom(ax, 1)
    return [bars]
