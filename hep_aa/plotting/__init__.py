"""Physics-style figures with hist + mplhep (matplotlib is imported only here).

Every function takes ``ax=None`` (or ``axes=None``), draws on it (a new figure otherwise)
and returns the artists it made. Labels carry units; ROC curves follow the HEP convention
(background rejection 1/ε_B on a log axis versus signal efficiency ε_S). :func:`save_figure`
writes PDF and PNG atomically.
"""

from __future__ import annotations

from hep_aa.plotting.figures import (
    add_label,
    plot_feature_distributions,
    plot_latent,
    plot_mean_images,
    plot_mjj_sculpting,
    plot_roc,
    plot_score_distributions,
    plot_sic,
    plot_training_history,
    save_figure,
    use_style,
)

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
