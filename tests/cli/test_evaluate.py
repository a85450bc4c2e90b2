from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hep_aa.cli import main
from hep_aa.io.artifacts import write_table


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, ring_toy: dict[str, np.ndarray]) -> Path:
    d = tmp_path_factory.mktemp("eval")
    names = [f"f{i}" for i in range(8)]
    write_table(
        d / "train.parquet",
        np.vstack([ring_toy["background"][:3000], ring_toy["known"][:200]]),
        names,
        labels=np.r_[np.zeros(3000), np.ones(200)],
        types=["background"] * 3000 + ["inner-upper"] * 200,
        metadata={"dataset": "ring"},
    )
    write_table(
        d / "test.parquet",
        np.vstack([ring_toy["test_background"], ring_toy["known"][200:], ring_toy["unseen"]]),
        names,
        labels=np.r_[np.zeros(3000), np.ones(200 + 1000)],
        types=["background"] * 3000 + ["inner-upper"] * 200 + ["inner-lower"] * 1000,
        spectators={
            "mjj_gev": np.r_[np.random.default_rng(0).exponential(800, 3000) + 2000, np.full(1200, 3500.0)]
        },
        metadata={"dataset": "ring"},
    )
    (d / "config.yaml").write_text(
        "version: 1\ntraining: {epochs: 20, finetune_epochs: 8, device: cpu}\nevaluation: {bootstrap: 20}\nplots: {formats: [png]}\n"
    )
    for method in ("vae", "aa-vae"):
        for seed in (0, 1):
            model = d / f"{method}_{seed}"
            args = ["train", "--features", str(d / "train.parquet"), "--method", method, "--seed", str(seed)]
            assert main([*args, "--config", str(d / "config.yaml"), "-o", str(model)]) == 0
            assert (
                main(
                    [
                        "score",
                        str(model),
                        str(d / "test.parquet"),
                        "-o",
                        str(d / f"scores_{method}_{seed}.parquet"),
                    ]
                )
                == 0
            )
    return d


def test_evaluate_writes_metrics_and_tables(workdir: Path) -> None:
    scores = sorted(str(p) for p in workdir.glob("scores_*.parquet"))
    out = workdir / "metrics.json"
    args = ["evaluate", *scores, "--config", str(workdir / "config.yaml"), "--table", str(workdir / "table")]
    assert main([*args, "-o", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert metrics["dataset"] == "ring"
    assert set(metrics["methods"]) == {"vae", "aa-vae"}
    aa = metrics["methods"]["aa-vae"]
    assert set(aa["seeds"]) == {"0", "1"}
    summary = aa["summary"]
    assert summary["inner-upper"]["seen"] is True
    assert summary["inner-lower"]["seen"] is False
    band = summary["inner-lower"]["auc"]
    assert band["n_seeds"] == 2
    assert band["band68"][0] <= band["median"] <= band["band68"][1]
    per_seed = aa["seeds"]["0"]["inner-lower"]
    assert per_seed["ci95"][0] <= per_seed["auc"] <= per_seed["ci95"][1]
    assert set(per_seed["rejection"]) == {"0.2", "0.5", "0.8"}
    # 3000 background events: eps_B = 1e-2 is measurable (30 events >= 25), 1e-3 is not
    assert per_seed["signal_efficiency"]["0.01"] is not None
    assert per_seed["signal_efficiency"]["0.001"] is None
    md = (workdir / "table.md").read_text()
    assert "| Plain VAE |" in md
    assert "inner-lower (unseen)" in md
    assert (workdir / "table.csv").read_text().startswith("method,anomaly_type,seen,auc_median")


def test_plot_every_figure_type(workdir: Path) -> None:
    scores = sorted(str(p) for p in workdir.glob("scores_*.parquet"))
    out = workdir / "plots"
    args = ["plot", *scores, str(workdir / "aa-vae_0"), "--features", str(workdir / "test.parquet")]
    assert main([*args, "--config", str(workdir / "config.yaml"), "-o", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    for expected in (
        "scores_vae.png",
        "scores_aa-vae.png",
        "roc_inner-lower.png",
        "sic_inner-upper.png",
        "mjj_sculpting_aa-vae.png",
        "training_aa-vae_0.png",
        "latent_aa-vae_0.png",
        "features.png",
    ):
        assert expected in names, expected
        assert (out / expected).stat().st_size > 5000


def test_evaluate_rejects_feature_table(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(workdir / "test.parquet"), "-o", str(workdir / "m.json")]) == 2
    assert "not a score table" in capsys.readouterr().err


def test_guard_note_names_every_tripped_run() -> None:
    from hep_aa.cli.evaluate import guard_note

    result = {
        "methods": {
            "aa-vae": {
                "seeds": {"0": {}, "1": {}},
                "divergence_guard": {"1": {"tripped": True, "guard_epoch": 9, "restored_epoch": 4}},
            },
            "vae": {"seeds": {"0": {}, "1": {}}, "divergence_guard": {}},
        }
    }
    assert guard_note(result) == (
        "Divergence guard tripped in 1 of 4 runs: AA-VAE seed 1 (diverged at fine-tune epoch 9, restored epoch 4)."
    )
    result["methods"]["aa-vae"]["divergence_guard"] = {}
    assert guard_note(result) == "Divergence guard: not tripped in any of the 4 runs."
