"""``hep-aa config validate`` and ``show`` on override files, one or several."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hep_aa.cli.main import main


def test_validate_several_files(repo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    default = repo_root / "workflows" / "config.yaml"
    user = tmp_path / "my.yaml"
    user.write_text("training: {device: cuda}\n")  # an override: no version
    assert main(["config", "validate", str(default), str(user)]) == 0
    assert capsys.readouterr().out.strip() == f"{default} + {user}: valid"


def test_validate_names_the_bad_file_and_key(
    repo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    user = tmp_path / "my.yaml"
    user.write_text("training: {learning_rate: .nan}\n")
    assert main(["config", "validate", str(repo_root / "workflows" / "config.yaml"), str(user)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hep-aa: error: {user}: training.learning_rate: nan is not a finite number")
    assert err.count("\n") == 1


def test_show_later_file_wins(repo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    user = tmp_path / "my.yaml"
    user.write_text("training: {device: cuda}\nseeds: [3]\n")
    assert main(["config", "show", str(repo_root / "workflows" / "config.yaml"), str(user)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["training"]["device"] == "cuda"
    assert shown["seeds"] == [3]
    assert shown["version"] == 1
