"""Single source of the hep_aa version (read by hatchling and at run time)."""

from __future__ import annotations

__version__ = "0.1.0"
