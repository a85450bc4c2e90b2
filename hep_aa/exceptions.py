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
    "OutputError",
]


class HepAAError(Exception):
    """Base class of every error hep_aa raises on purpose."""


class ConfigError(HepAAError, ValueError):
    """A configuration file or value is invalid (names the JSON path and the value)."""


class DataFormatError(HepAAError, ValueError):
    """An input file is unreadable, truncated or does not have the expected layout.

    Also raised for values a file may hold but that would give a silently wrong result
    (negative pT, NaN, labels outside {0, 1}, zero rows): the message names the file, the
    column, branch or event, and what to do.
    """


class OutputError(HepAAError):
    """An output cannot be written where asked (it is also an input, its folder cannot be
    created, it would replace something that is not a hep_aa output)."""


class ModelError(HepAAError, RuntimeError):
    """A model file is missing, corrupt or incompatible, or a model is used before fit."""


class DependencyError(HepAAError, ImportError):
    """An optional dependency needed for the requested operation is not installed."""


class MetricError(HepAAError, ValueError):
    """A metric cannot be computed from the given scores (an empty class, NaN scores, ...)."""
