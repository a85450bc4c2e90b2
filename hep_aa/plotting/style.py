"""Style, experiment-neutral labels, legends and atomic saving shared by every figure."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)

import matplotlib.pyplot as plt
import mplhep as hep
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from hep_aa.features.registry import dataset_info
from hep_aa.io.artifacts import atomic_path

__all__ = ["add_label", "legend", "palette", "save_figure", "use_style"]

#: Petroff's colour sequences (arXiv:2107.02270), the 6-colour one of the mplhep styles and
#: the 10-colour one for figures with more series (so that no two series share a colour)
PETROFF_6 = ("#5790fc", "#f89c20", "#e42536", "#964a8b", "#9c9ca1", "#7a21dd")
PETROFF_10 = (
    "#3f90da", "#ffa90e", "#bd1f01", "#94a4a2", "#832db6",
    "#a96b59", "#e76300", "#b9ac70", "#717581", "#92dadd",
)  # fmt: skip

#: legends with more entries than this go outside the axes (right), never over the data
MAX_INSIDE_ENTRIES = 4


def use_style() -> None:
    """Apply the mplhep ROOT-like style used by every hep_aa figure (neutral, no experiment)."""
    plt.style.use(hep.style.ROOT)
    plt.rcParams.update({"figure.figsize": (7.0, 6.0), "legend.fontsize": 13, "axes.labelsize": 18})


def palette(n: int, *, avoid_grey: bool = False) -> list[str]:
    """``n`` distinct colours: Petroff 6 up to six series, Petroff 10 beyond (cycled past ten).

    ``avoid_grey`` leaves the greys out (for series drawn beside a grey-filled background).
    """
    colours: tuple[str, ...] = PETROFF_6 if n <= len(PETROFF_6) - avoid_grey else PETROFF_10
    if avoid_grey:
        colours = tuple(c for c in colours if c not in ("#9c9ca1", "#94a4a2", "#717581"))
    return [colours[i % len(colours)] for i in range(n)]


def new_axes(ax: Axes | None) -> Axes:
    """``ax``, or the axes of a new figure in the hep_aa style."""
    if ax is None:
        use_style()
        _, ax = plt.subplots()
    return ax


def add_label(
    ax: Axes, label: str = "Simulation", com_tev: float | None = 13.0, *, dataset: str | None = None
) -> Any:
    """Experiment-neutral label: ``label`` on the left, √s on the right.

    With a non-collider ``dataset`` (MNIST, CICIDS2017, see
    :func:`hep_aa.features.registry.dataset_info`) the left label is the dataset's title and
    there is no √s: "Simulation" and a centre-of-mass energy mean nothing for images.
    """
    if dataset is not None and not dataset_info(dataset).collider:
        label, com_tev = dataset_info(dataset).title, None
    # unicode root: mathtext \sqrt lacks a glyph in the ROOT style's font
    rlabel = f"\u221as = {com_tev:g} TeV" if com_tev else ""
    return hep.label.exp_label(exp="", llabel=label, rlabel=rlabel, ax=ax, loc=0)


def headroom(ax: Axes, n_entries: int) -> None:
    """Raise the top of the y axis so that a legend of ``n_entries`` lines sits above the data."""
    lo, hi = ax.get_ylim()
    frac = min(0.075 * (n_entries + 1), 0.6)  # fraction of the axis height the legend needs
    if ax.get_yscale() == "log":
        lo = max(lo, 1e-12)
        span = np.log10(hi) - np.log10(lo)
        ax.set_ylim(lo, 10 ** (np.log10(lo) + span / (1 - frac)))
    else:
        ax.set_ylim(lo, lo + (hi - lo) / (1 - frac))


def legend(
    ax: Axes,
    *,
    handles: Sequence[Any] | None = None,
    labels: Sequence[str] | None = None,
    title: str | None = None,
    inside: bool | None = None,
    **kwargs: Any,
) -> Any:
    """A legend that never covers data: inside (upper right, with y headroom) for at most
    :data:`MAX_INSIDE_ENTRIES` entries, otherwise outside the axes on the right (kept by
    ``bbox_inches="tight"`` in :func:`save_figure`)."""
    if handles is None or labels is None:
        handles, labels = ax.get_legend_handles_labels()
    n = len(labels) + (1 if title else 0)
    if inside is None:
        inside = n <= MAX_INSIDE_ENTRIES
    opts: dict[str, Any] = {"fontsize": 11, "title_fontsize": 12, "frameon": False}
    opts.update(kwargs)
    if inside:
        headroom(ax, n)
        return ax.legend(handles, labels, title=title, loc="upper right", **opts)
    return ax.legend(
        handles, labels, title=title, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, **opts
    )


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
