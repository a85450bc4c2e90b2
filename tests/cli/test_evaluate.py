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


# --- event weights (the `weight` spectator column, negative allowed) ---------------------------


@pytest.fixture(scope="module")
def weighted_scores(tmp_path_factory: pytest.TempPathFactory, ring_toy: dict[str, np.ndarray]) -> Path:
    """IsolationForest score tables (2 seeds) of a test table with NLO-like weights: correlated
    with the first feature, 12% negative."""
    d = tmp_path_factory.mktemp("weighted")
    names = [f"f{i}" for i in range(8)]
    write_table(
        d / "train.parquet",
        ring_toy["background"][:2000],
        names,
        labels=np.zeros(2000),
        types="background",
        metadata={"dataset": "ring"},
    )
    x = np.vstack([ring_toy["test_background"], ring_toy["known"][200:], ring_toy["unseen"]])
    rng = np.random.default_rng(5)
    w = np.exp(-x[:, 0]) * rng.exponential(1.0, len(x)) * np.where(rng.random(len(x)) < 0.12, -1.0, 1.0)
    write_table(
        d / "test.parquet",
        x,
        names,
        labels=np.r_[np.zeros(3000), np.ones(1200)],
        types=["background"] * 3000 + ["inner-upper"] * 200 + ["inner-lower"] * 1000,
        spectators={"weight": w},
        metadata={"dataset": "ring"},
    )
    (d / "config.yaml").write_text("version: 1\nevaluation: {bootstrap: 30}\nplots: {formats: [png]}\n")
    for seed in (0, 1):
        args = ["train", "--features", str(d / "train.parquet"), "--method", "iforest", "--seed", str(seed)]
        assert main([*args, "--config", str(d / "config.yaml"), "-o", str(d / f"if_{seed}")]) == 0
        out = d / f"scores_iforest_{seed}.parquet"
        assert main(["score", str(d / f"if_{seed}"), str(d / "test.parquet"), "-o", str(out)]) == 0
    return d


def test_evaluate_weights_every_metric_by_the_weight_column(weighted_scores: Path) -> None:
    sk = pytest.importorskip("sklearn.metrics")
    from hep_aa.io.artifacts import read_table

    d = weighted_scores
    scores = sorted(str(p) for p in d.glob("scores_*.parquet"))
    cfg = ["--config", str(d / "config.yaml")]
    assert main(["evaluate", *scores, *cfg, "--table", str(d / "table"), "-o", str(d / "m.json")]) == 0
    assert main(["evaluate", *scores, *cfg, "--no-weights", "-o", str(d / "m_plain.json")]) == 0
    metrics = json.loads((d / "m.json").read_text())
    plain = json.loads((d / "m_plain.json").read_text())
    info = metrics["event_weights"]
    assert info["column"] == "weight"
    assert info["used"] is True
    assert plain["event_weights"]["used"] is False
    t = read_table(scores[0])
    w = t.spectators["weight"]
    assert (w < 0).any()
    sums = info["inputs"][scores[0]]["sum_by_type"]
    for kind in ("background", "inner-upper", "inner-lower"):
        assert sums[kind] == pytest.approx(float(w[t.types == kind].sum()))
    assert info["inputs"][scores[0]]["n_negative"] == int(np.count_nonzero(w < 0))
    for kind in ("inner-upper", "inner-lower"):
        per_seed = metrics["methods"]["iforest"]["seeds"]["0"][kind]
        assert per_seed["weighted"] is True
        m = (t.labels == 0) | (t.types == kind)
        fpr, tpr, _ = sk.roc_curve(t.labels[m], t.features[m, 0], sample_weight=w[m], drop_intermediate=False)
        assert per_seed["auc"] == pytest.approx(float(np.trapezoid(tpr, fpr)), rel=0, abs=1e-12)
        assert per_seed["sum_weights_anomaly"] == pytest.approx(sums[kind])
        unweighted = plain["methods"]["iforest"]["seeds"]["0"][kind]
        assert unweighted["weighted"] is False
        assert unweighted["auc"] == pytest.approx(sk.roc_auc_score(t.labels[m], t.features[m, 0]), abs=1e-12)
        assert abs(per_seed["auc"] - unweighted["auc"]) > 5e-4  # the weights are not ignored
    md = (d / "table.md").read_text()
    assert "| IsolationForest |" in md
    assert "weighted by their `weight` column" in md
    assert (d / "table.csv").read_text().startswith("method,anomaly_type,seen,auc_median")


def test_plot_with_weights_writes_every_score_figure(weighted_scores: Path) -> None:
    d = weighted_scores
    scores = sorted(str(p) for p in d.glob("scores_*.parquet"))
    out = d / "plots"
    args = ["plot", *scores, "--features", str(d / "test.parquet"), "--config", str(d / "config.yaml")]
    assert main([*args, "-o", str(out)]) == 0
    names = (
        "scores_iforest.png",
        "roc_inner-lower.png",
        "roc_inner-upper.png",
        "sic_inner-lower.png",
        "features.png",
    )
    for name in names:
        assert (out / name).stat().st_size > 5000, name


def test_weighted_and_unweighted_score_tables_do_not_mix(
    weighted_scores: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hep_aa.io.artifacts import read_table

    d = weighted_scores
    t = read_table(d / "scores_iforest_1.parquet")
    spect = {k: v for k, v in t.spectators.items() if k != "weight"}
    kw = {"labels": t.labels, "types": t.types, "metadata": t.metadata}
    write_table(d / "plain_1.parquet", t.features, ["score"], spectators=spect, **kw)
    args = ["evaluate", str(d / "scores_iforest_0.parquet"), str(d / "plain_1.parquet")]
    assert main([*args, "-o", str(d / "mixed.json")]) == 2
    err = capsys.readouterr().err
    assert "carry a 'weight' column" in err
    assert "--no-weights" in err
    assert main([*args, "--no-weights", "-o", str(d / "mixed.json")]) == 0
    bad = dict(t.spectators)
    bad["weight"] = np.where(np.arange(len(t)) == 3, np.nan, t.spectators["weight"])
    write_table(d / "nan_1.parquet", t.features, ["score"], spectators=bad, **kw)
    assert main(["evaluate", str(d / "nan_1.parquet"), "-o", str(d / "nan.json")]) == 2
    assert "1 NaN/Inf value(s) in column 'weight'" in capsys.readouterr().err
    # every anomaly weight negative: the metric says which table and type, and what to do
    neg = dict(t.spectators)
    neg["weight"] = np.where(t.types == "inner-upper", -1.0, 1.0)
    write_table(d / "neg_1.parquet", t.features, ["score"], spectators=neg, **kw)
    assert main(["evaluate", str(d / "neg_1.parquet"), "-o", str(d / "neg.json")]) == 2
    err = capsys.readouterr().err
    assert "neg_1.parquet" in err
    assert "anomaly type 'inner-upper'" in err
    assert "total signal weight is -200" in err
    assert not (d / "neg.json").exists()
