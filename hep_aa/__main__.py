"""``python -m hep_aa`` runs the ``hep-aa`` CLI."""

from __future__ import annotations

from hep_aa.cli.main import _console_main

_console_main()
