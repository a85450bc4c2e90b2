"""Exceptions raised by hep_aa.

Every user-facing error is a :class:`HepAAError`. Its message says what was wrong, where
(file, column, config path) and what to do. The ``hep-aa`` CLI prints it as one line on
stderr and exits with code 2.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataFormatError",
    "DependencyError",
    "HepAAError",
    "MetricError",
    "ModelError",
]


class HepAAError(Exception):
    """Base class of every error hep_aa raises on purpose."""


class ConfigError(HepAAError, ValueError):
    """A configuration file or value is invalid (names the JSON path and the value)."""


class DataFormatError(HepAAError, ValueError):
    """An input file is unreadable, truncated or does not have the expected layout."""


class ModelError(HepAAError, RuntimeError):
    """A model file is missing, corrupt or incompatible, or a model is used before fit."""


class DependencyError(HepAAError, ImportError):
    """An optional dependency needed for the requested operation is not installed."""


class MetricError(HepAAError, ValueError):
    """A metric cannot be computed from the given scores (an empty class, NaN scores, ...)."""
