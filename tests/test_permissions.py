"""Outputs are written with the user's umask (a shared cluster group can read results), even
though every writer goes through a private temporary file or folder first."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from hep_aa.io.artifacts import atomic_folder, atomic_write


@pytest.fixture(params=[0o022, 0o027, 0o077], ids=["022", "027", "077"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def test_atomic_file_follows_umask(tmp_path: Path, umask: int) -> None:
    out = tmp_path / "metrics.json"
    with atomic_write(out) as fh:
        fh.write("{}\n")
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


def test_replaced_file_follows_umask(tmp_path: Path, umask: int) -> None:
    out = tmp_path / "table.md"
    out.write_text("old\n")
    out.chmod(0o600)
    with atomic_write(out) as fh:
        fh.write("new\n")
    assert out.read_text() == "new\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


def test_atomic_folder_follows_umask(tmp_path: Path, umask: int) -> None:
    out = tmp_path / "model"
    with atomic_folder(out, allowed=["model.json"]) as tmp:
        (tmp / "model.json").write_text("{}\n")
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask
    assert stat.S_IMODE((out / "model.json").stat().st_mode) == 0o666 & ~umask
