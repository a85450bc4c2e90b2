"""hep_aa — Anomaly Awareness for collider physics.

A variational autoencoder trained on background, then fine-tuned with a few labelled
anomalies so that anomalies reconstruct worse (arXiv:2504.11520), plus the
synthetic-anomaly classifier of arXiv:2506.13955 as an option and a baseline.

``import hep_aa`` is kept light: heavy dependencies (torch, coffea, matplotlib, pythia8mc)
are imported only by the subpackages that need them.
"""

from __future__ import annotations

from hep_aa._version import __version__
from hep_aa.exceptions import ConfigError, DataFormatError, HepAAError

__all__ = ["ConfigError", "DataFormatError", "HepAAError", "__version__"]
