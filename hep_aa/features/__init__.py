"""Feature building from awkward events (vector, fastjet): one definition for the CLI,
the workflow and the coffea processor.

Layering: this package never imports torch, coffea, matplotlib or pythia8mc.
"""

from __future__ import annotations
