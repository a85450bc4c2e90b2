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


def test_split_carries_the_weight_column(tmp_path: Path) -> None:
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    wa = np.linspace(-0.5, 2.0, 100)
    write_table(
        a,
        np.arange(100.0)[:, None],
        ["x"],
        labels=np.zeros(100),
        types="background",
        spectators={"weight": wa},
    )
    write_table(b, np.arange(100.0, 140.0)[:, None], ["x"], labels=np.ones(40), types="sig")  # no weights
    args = ["split", str(a), str(b), "--seed", "2", "--train", str(tmp_path / "tr.parquet")]
    assert main([*args, "--test", str(tmp_path / "te.parquet")]) == 0
    tr, te = read_table(tmp_path / "tr.parquet"), read_table(tmp_path / "te.parquet")
    assert (te.types == "sig").sum() == 20  # stratified split unchanged
    x = np.r_[tr.features[:, 0], te.features[:, 0]]
    w = np.r_[tr.spectators["weight"], te.spectators["weight"]]
    assert w.dtype == np.float64
    # each event keeps its weight; the input without a weight column gets unit weights
    np.testing.assert_array_equal(w[x < 100], wa[x[x < 100].astype(int)])
    np.testing.assert_array_equal(w[x >= 100], 1.0)


def test_split_unweight_preserves_weighted_means(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    n = 40_000
    x = rng.normal(0.0, 1.0, n)
    # NLO-like: weights grow with x, 20% negative (more of them at low x)
    w = np.exp(0.5 * x) * np.where(rng.random(n) < 0.2 + 0.1 * (x < 0), -1.0, 1.0)
    sig_x = rng.normal(1.0, 0.5, 5000)
    sig_w = rng.uniform(0.0, 3.0, 5000)
    src = tmp_path / "w.parquet"
    write_table(
        src,
        np.c_[np.r_[x, sig_x]],
        ["x"],
        labels=np.r_[np.zeros(n), np.ones(5000)],
        types=["background"] * n + ["sig"] * 5000,
        spectators={"weight": np.r_[w, sig_w]},
    )
    out = [tmp_path / "tr.parquet", tmp_path / "te.parquet"]
    args = ["split", str(src), "--unweight", "--seed", "3", "--train", str(out[0]), "--test", str(out[1])]
    assert main(args) == 0
    printed = capsys.readouterr().out
    tr, te = read_table(out[0]), read_table(out[1])
    assert tr.metadata["unweighted"]["seed"] == 3
    for kind, xs, ws in (("background", x, w), ("sig", sig_x, sig_w)):
        expected_eff = np.abs(ws).mean() / np.abs(ws).max()
        assert tr.metadata["unweighted"]["acceptance"][kind] == pytest.approx(expected_eff)
        assert f"unweighting {kind}: acceptance {expected_eff:.4g}" in printed
        got_x = np.r_[tr.features[tr.types == kind, 0], te.features[te.types == kind, 0]]
        got_w = np.r_[tr.spectators["weight"][tr.types == kind], te.spectators["weight"][te.types == kind]]
        assert set(np.unique(got_w)) <= {-1.0, 1.0}
        assert got_x.size == pytest.approx(expected_eff * xs.size, rel=0.05)
        # weighted mean of x before and after, within the statistical error of the unweighted sample
        before = np.sum(ws * xs) / np.sum(ws)
        after = np.sum(got_w * got_x) / np.sum(got_w)
        err = np.sqrt(np.sum((got_w * (got_x - after)) ** 2)) / abs(np.sum(got_w))
        assert abs(after - before) < 3 * err, (kind, before, after, err)
        # and the sum of weights (the cross section) up to the acceptance normalisation
        scale = np.abs(ws).max()
        total_err = np.sqrt(got_w.size) * scale
        assert abs(np.sum(got_w) * scale - np.sum(ws)) < 3 * total_err
    assert (tr.spectators["weight"] < 0).any()  # negative events survive as weight -1
    # reproducible: same seed, same events
    again = [tmp_path / "tr2.parquet", tmp_path / "te2.parquet"]
    args2 = [
        "split",
        str(src),
        "--unweight",
        "--seed",
        "3",
        "--train",
        str(again[0]),
        "--test",
        str(again[1]),
    ]
    assert main(args2) == 0
    np.testing.assert_array_equal(read_table(again[0]).features, tr.features)


def test_split_unweight_needs_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_table(tmp_path / "a.parquet", np.zeros((4, 1)), ["x"], labels=np.zeros(4), types="background")
    args = ["split", str(tmp_path / "a.parquet"), "--unweight"]
    assert main([*args, "--train", str(tmp_path / "t.parquet"), "--test", str(tmp_path / "s.parquet")]) == 2
    assert "--unweight needs a 'weight' column" in capsys.readouterr().err
    assert not (tmp_path / "t.parquet").exists()
