from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hep_aa.cli import main
from hep_aa.io.artifacts import read_table, write_table
from hep_aa.io.lhco import LHCOWriter


def test_split_is_stratified_and_disjoint(tmp_path: Path) -> None:
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    write_table(
        a,
        np.arange(200.0)[:, None],
        ["x"],
        labels=np.zeros(200),
        types="background",
        spectators={"i": np.arange(200)},
    )
    write_table(
        b,
        np.arange(200.0, 260.0)[:, None],
        ["x"],
        labels=np.ones(60),
        types="sig",
        spectators={"i": np.arange(60)},
    )
    args = ["split", str(a), str(b), "--test-fraction", "0.25", "--seed", "1"]
    assert main([*args, "--train", str(tmp_path / "tr.parquet"), "--test", str(tmp_path / "te.parquet")]) == 0
    tr, te = read_table(tmp_path / "tr.parquet"), read_table(tmp_path / "te.parquet")
    assert (te.types == "background").sum() == 50
    assert (te.types == "sig").sum() == 15
    assert len(tr) + len(te) == 260
    assert not set(tr.features[:, 0]) & set(te.features[:, 0])
    assert te.metadata["split"] == "test"


def test_split_rejects_mixed_feature_sets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_table(tmp_path / "a.parquet", np.zeros((3, 1)), ["x"], labels=np.zeros(3), types="background")
    write_table(tmp_path / "b.parquet", np.zeros((3, 1)), ["y"], labels=np.zeros(3), types="background")
    args = ["split", str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")]
    assert main([*args, "--train", str(tmp_path / "t"), "--test", str(tmp_path / "s")]) == 2
    assert "feature columns differ" in capsys.readouterr().err


def test_merge_lhco(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    parts = []
    for i, n in enumerate((3, 5)):
        block = np.zeros((n, 2100))
        block[:, :30] = rng.random((n, 30)) + 0.1
        with LHCOWriter(tmp_path / f"c{i}.h5", n) as w:
            w.write(block, np.full(n, i))
        parts.append(np.column_stack([block, np.full(n, i)]))
    out = tmp_path / "merged.h5"
    assert (
        main(
            [
                "generate",
                "merge-lhco",
                str(tmp_path / "c0.h5"),
                str(tmp_path / "c1.h5"),
                "--chunk-size",
                "2",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    np.testing.assert_array_equal(pd.read_hdf(out, "df").to_numpy(), np.vstack(parts))


def test_summary_and_config_show(tmp_path: Path, repo_root: Path) -> None:
    (tmp_path / "lhco").mkdir()
    (tmp_path / "lhco" / "table.md").write_text("| method | a |\n|---|---:|\n| AA-VAE | 0.9 |\n")
    assert main(["summary", str(tmp_path / "lhco" / "table.md"), "-o", str(tmp_path / "summary.md")]) == 0
    text = (tmp_path / "summary.md").read_text()
    assert "## lhco" in text
    assert "| AA-VAE | 0.9 |" in text
    override = tmp_path / "o.yaml"
    override.write_text("version: 1\ntraining: {epochs: 2}\n")
    out = tmp_path / "c.json"
    assert (
        main(["config", "show", str(repo_root / "workflows" / "config.yaml"), str(override), "-o", str(out)])
        == 0
    )
    merged = json.loads(out.read_text())
    assert merged["training"]["epochs"] == 2  # later file wins
    assert merged["training"]["lambda_max"] == 1.25  # kept from the first
