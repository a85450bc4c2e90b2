"""Readers and writers only (HDF5, ROOT, LHE, IDX, CSV, artifacts).

Layering: this package never imports torch, coffea, matplotlib or pythia8mc.
"""

from __future__ import annotations
