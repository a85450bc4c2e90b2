"""Shared fixtures for the hep_aa test-suite."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (where the Snakefile and workflows/ live)."""
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data samples beside the project; tests using it skip when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data samples not found at {SHARED_DATA}")
    return SHARED_DATA
