"""Physics-style figures with hist + mplhep (matplotlib is imported only here).

Every function takes ``ax=None`` (or ``axes=None``), draws on it (a new figure otherwise)
and returns the artists it made. Axis labels and units come from the feature registry
(:mod:`hep_aa.features.registry`), legends use the physics names of anomaly types, and the
wording follows the dataset: collider figures show background rejection 1/ε_B on a log axis
versus signal efficiency ε_S with a √s label; image and network-flow figures speak of true-
and false-positive rates and carry no "Simulation" label. :func:`save_figure` writes PDF and
PNG atomically.

Modules: :mod:`~hep_aa.plotting.style` (style, labels, legends, saving),
:mod:`~hep_aa.plotting.curves` (ROC, SIC), :mod:`~hep_aa.plotting.distributions` (scores,
features, m_jj sculpting, images, latent space, cutflow), :mod:`~hep_aa.plotting.training`.
"""

from __future__ import annotations

from hep_aa.plotting.curves import bootstrap_band, plot_roc, plot_sic
from hep_aa.plotting.distributions import (
    plot_cutflow,
    plot_feature_distributions,
    plot_latent,
    plot_mean_images,
    plot_mjj_sculpting,
    plot_score_distributions,
    score_binning,
)
from hep_aa.plotting.style import add_label, legend, save_figure, use_style
from hep_aa.plotting.training import plot_training_history, restored_epochs

__all__ = [
    "add_label",
    "bootstrap_band",
    "legend",
    "plot_cutflow",
    "plot_feature_distributions",
    "plot_latent",
    "plot_mean_images",
    "plot_mjj_sculpting",
    "plot_roc",
    "plot_score_distributions",
    "plot_sic",
    "plot_training_history",
    "restored_epochs",
    "save_figure",
    "score_binning",
    "use_style",
]
