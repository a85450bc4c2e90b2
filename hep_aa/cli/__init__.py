"""The ``hep-aa`` command line: thin subcommands over the library; the only layer that reads argv."""

from __future__ import annotations

from hep_aa.cli.main import cli, main

__all__ = ["cli", "main"]
