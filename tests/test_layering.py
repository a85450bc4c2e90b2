"""The layering rules of DESIGN.md, checked in fresh interpreters."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = (
    "torch",
    "coffea",
    "matplotlib",
    "pythia8mc",
    "snakemake",
    "dask",
    "distributed",
    "pandas",
    "tables",
    "pylhe",
)


def _imported_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("module", ["hep_aa", "hep_aa.io", "hep_aa.features", "hep_aa.config", "hep_aa.cli"])
def test_light_modules_do_not_import_heavy_dependencies(module: str) -> None:
    modules = _imported_after(f"import {module}")
    assert module in modules
    leaked = [name for name in HEAVY if name in modules]
    assert not leaked, f"importing {module} pulled in {leaked}"
