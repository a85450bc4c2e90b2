"""Event generation with Pythia 8 (pythia8mc is imported only here)."""

from __future__ import annotations
