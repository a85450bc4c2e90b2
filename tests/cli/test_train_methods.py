"""``hep-aa train`` with several ``--method`` options: one call per dataset and seed, the VAE
methods sharing their stage-1 pretraining, with the files of separate calls (bit for bit)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hep_aa.cli import main
from hep_aa.io.artifacts import load_model_folder, read_table, write_table

METHODS = ("vae", "vae-matched", "aa-vae", "supervised")


@pytest.fixture
def tables(tmp_path: Path, ring_toy: dict[str, np.ndarray]) -> dict[str, Path]:
    names = [f"f{i}" for i in range(ring_toy["background"].shape[1])]
    train = tmp_path / "train.parquet"
    write_table(
        train,
        np.vstack([ring_toy["background"][:1500], ring_toy["known"][:200]]),
        names,
        labels=np.r_[np.zeros(1500), np.ones(200)],
        types=["background"] * 1500 + ["inner-upper"] * 200,
        metadata={"dataset": "ring"},
    )
    test = tmp_path / "test.parquet"
    write_table(
        test,
        np.vstack([ring_toy["test_background"][:500], ring_toy["unseen"][:200]]),
        names,
        labels=np.r_[np.zeros(500), np.ones(200)],
        types=["background"] * 500 + ["inner-lower"] * 200,
        metadata={"dataset": "ring"},
    )
    config = tmp_path / "config.yaml"
    config.write_text(
        "version: 1\ntraining: {epochs: 6, finetune_epochs: 3, device: cpu, n_known_anomalies: 100}\n"
    )
    return {"train": train, "test": test, "config": config, "dir": tmp_path}


def test_several_methods_in_one_call_equal_separate_calls(tables: dict[str, Path]) -> None:
    import torch

    d = tables["dir"]
    base = ["train", "--features", str(tables["train"]), "--threads", "1", "--config", str(tables["config"])]
    before = torch.get_num_threads()
    try:
        argv = [*base, *(a for m in METHODS for a in ("--method", m)), "--seeds", "0,1"]
        argv += ["-o", str(d / "fat" / "{method}_seed{seed}")]
        argv += [
            "--score-features",
            str(tables["test"]),
            "--scores",
            str(d / "fat" / "{method}_{seed}.parquet"),
        ]
        assert main(argv) == 0
        for method in METHODS:
            out = d / "thin" / f"{method}_seed1"
            assert main([*base, "--method", method, "--seed", "1", "-o", str(out)]) == 0
            assert (
                main(["score", str(out), str(tables["test"]), "-o", str(d / "thin" / f"{method}.parquet")])
                == 0
            )
    finally:
        torch.set_num_threads(before)
    for method in METHODS:
        fat, thin = (
            load_model_folder(p)[1] for p in (d / "fat" / f"{method}_seed1", d / "thin" / f"{method}_seed1")
        )
        assert fat.keys() == thin.keys()
        for key in fat:
            np.testing.assert_array_equal(fat[key], thin[key], err_msg=f"{method} {key}")
        a = read_table(d / "fat" / f"{method}_1.parquet")
        b = read_table(d / "thin" / f"{method}.parquet")
        np.testing.assert_array_equal(a.features, b.features)
        assert a.metadata["method"] == method
        assert (d / "fat" / f"{method}_seed0" / "model.json").is_file()


def test_several_methods_need_the_method_field(
    tables: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    d = tables["dir"]
    argv = ["train", "--features", str(tables["train"]), "--method", "vae", "--method", "aa-vae"]
    assert main([*argv, "-o", str(d / "m_seed0")]) == 2
    assert "has no {method} field" in capsys.readouterr().err
    assert not (d / "m_seed0").exists()
