from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hep_aa.cli import main
from hep_aa.detector import load_detector
from hep_aa.io.artifacts import read_table, write_table


@pytest.fixture
def tables(tmp_path: Path, ring_toy: dict[str, np.ndarray]) -> dict[str, Path]:
    names = [f"f{i}" for i in range(ring_toy["background"].shape[1])]
    train = tmp_path / "train.parquet"
    write_table(
        train,
        np.vstack([ring_toy["background"][:2000], ring_toy["known"][:300]]),
        names,
        labels=np.r_[np.zeros(2000), np.ones(300)],
        types=["background"] * 2000 + ["inner-upper"] * 300,
        metadata={"dataset": "ring"},
    )
    test = tmp_path / "test.parquet"
    write_table(
        test,
        np.vstack([ring_toy["test_background"], ring_toy["unseen"]]),
        names,
        labels=np.r_[np.zeros(3000), np.ones(1000)],
        types=["background"] * 3000 + ["inner-lower"] * 1000,
        spectators={"weight": np.full(4000, 2.0)},
        metadata={"dataset": "ring"},
    )
    config = tmp_path / "config.yaml"
    config.write_text(
        "version: 1\ntraining: {epochs: 10, finetune_epochs: 5, device: cpu, n_known_anomalies: 100}\n"
    )
    return {"train": train, "test": test, "config": config, "dir": tmp_path}


@pytest.mark.parametrize("method", ["aa-vae", "synth-classifier", "iforest"])
def test_train_then_score(tables: dict[str, Path], method: str, capsys: pytest.CaptureFixture[str]) -> None:
    model = tables["dir"] / f"model-{method}"
    args = [
        "train",
        "--features",
        str(tables["train"]),
        "--method",
        method,
        "--config",
        str(tables["config"]),
    ]
    assert main([*args, "--seed", "3", "-o", str(model)]) == 0
    assert "trained on 2000 background + 100 known anomalies" in capsys.readouterr().out
    meta = json.loads((model / "model.json").read_text())
    assert meta["provenance"]["n_known"] == 100
    assert meta["provenance"]["known_types"] == ["inner-upper"]
    assert meta["provenance"]["method"] == method

    scores_path = tables["dir"] / f"scores-{method}.parquet"
    assert main(["score", str(model), str(tables["test"]), "-o", str(scores_path)]) == 0
    scores = read_table(scores_path)
    assert scores.feature_names == ("score",)
    assert len(scores) == 4000
    np.testing.assert_array_equal(scores.spectators["weight"], 2.0)
    assert scores.metadata["method"] == method
    assert scores.metadata["seed"] == 3
    guard = scores.metadata["divergence_guard"]
    assert guard["tripped"] is False
    assert guard["restored_epoch"] == (
        meta["hyperparameters"]["finetune_epochs"] - 1 if method == "aa-vae" else -1
    )
    # the CLI scores are the saved model's scores on the same events
    expected = load_detector(model).decision_function(read_table(tables["test"]).features)
    np.testing.assert_array_equal(scores.features[:, 0], expected)
    assert np.all(np.isfinite(expected))


def test_known_type_filter_and_missing_labels(
    tables: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "train",
        "--features",
        str(tables["train"]),
        "--config",
        str(tables["config"]),
        "-o",
        str(tables["dir"] / "m"),
    ]
    assert main([*args, "--method", "aa-vae", "--known-type", "no-such-type"]) == 2
    err = capsys.readouterr().err
    assert "needs labelled anomalies" in err
    assert "no-such-type" in err


def test_score_rejects_other_feature_set(tables: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    model = tables["dir"] / "m"
    args = ["train", "--features", str(tables["train"]), "--method", "iforest", "-o", str(model)]
    assert main(args) == 0
    other = tables["dir"] / "other.parquet"
    write_table(other, np.zeros((3, 2)), ["a", "b"], labels=np.zeros(3), types="background")
    assert main(["score", str(model), str(other), "-o", str(tables["dir"] / "s.parquet")]) == 2
    assert "differ from the model's" in capsys.readouterr().err
    assert not (tables["dir"] / "s.parquet").exists()


def test_train_reports_bad_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    assert main(["train", "--features", str(bad), "--method", "vae", "-o", str(tmp_path / "m")]) == 2
    assert "not a readable parquet file" in capsys.readouterr().err


def test_gamma_l_sets_the_number_of_known_anomalies(
    tables: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Deep SAD's γ_l: n_known = γ_l / (1 − γ_l) × n_background (2000 → 105 at γ_l = 0.05)."""
    model = tables["dir"] / "model-gamma"
    args = ["train", "--features", str(tables["train"]), "--method", "iforest", "--gamma-l", "0.05"]
    assert main([*args, "-o", str(model)]) == 0
    assert json.loads((model / "model.json").read_text())["provenance"]["n_known"] == 105
    assert main([*args, "--n-known", "5", "-o", str(model)]) == 2
    assert "not both" in capsys.readouterr().err


def test_model_hints_replace_defaults_not_user_settings(
    tmp_path: Path, ring_toy: dict[str, np.ndarray]
) -> None:
    """A table's model hints (as ``features mnist`` writes) fill in for schema defaults, but a
    value the user's config sets wins."""
    table = tmp_path / "hinted.parquet"
    write_table(
        table,
        ring_toy["background"][:300],
        [f"f{i}" for i in range(ring_toy["background"].shape[1])],
        labels=np.zeros(300),
        types=["background"] * 300,
        metadata={"dataset": "ring", "model_hints": {"epochs": 3, "patience": 2, "latent_dim": 3}},
    )
    config = tmp_path / "c.yaml"
    config.write_text("version: 1\ntraining: {epochs: 2, device: cpu}\n")
    for cfg, expected in ((None, 3), (config, 2)):
        model = tmp_path / f"m{expected}"
        args = ["train", "--features", str(table), "--method", "vae", "-o", str(model)]
        assert main(args + (["--config", str(cfg)] if cfg else [])) == 0
        params = json.loads((model / "model.json").read_text())["hyperparameters"]
        assert (params["epochs"], params["patience"], params["latent_dim"]) == (expected, 2, 3)


def _model_arrays(folder: Path) -> dict[str, np.ndarray]:
    from hep_aa.io.artifacts import load_model_folder

    return load_model_folder(folder)[1]


@pytest.mark.parametrize("method", ["aa-vae", "synth-classifier", "iforest"])
def test_several_seeds_and_scoring_in_one_call_equal_separate_calls(
    tables: dict[str, Path], method: str
) -> None:
    """``--seeds 0,1 --score-features --scores`` writes, per seed, the same model weights and
    scores (bit for bit, same --threads) as one ``train --seed S`` plus one ``score`` call."""
    import torch

    d = tables["dir"]
    base = ["train", "--features", str(tables["train"]), "--method", method, "--threads", "1"]
    base += ["--config", str(tables["config"])]
    before = torch.get_num_threads()
    try:
        argv = [*base, "--seeds", "0,1", "-o", str(d / "fat" / "aa_seed{seed}")]
        argv += ["--score-features", str(tables["test"]), "--scores", str(d / "fat" / "scores{seed}.parquet")]
        assert main(argv) == 0
        for seed in (0, 1):
            assert main([*base, "--seed", str(seed), "-o", str(d / f"thin{seed}")]) == 0
            thin_scores = d / f"thin_scores{seed}.parquet"
            assert main(["score", str(d / f"thin{seed}"), str(tables["test"]), "-o", str(thin_scores)]) == 0
    finally:
        torch.set_num_threads(before)
    for seed in (0, 1):
        fat, thin = _model_arrays(d / "fat" / f"aa_seed{seed}"), _model_arrays(d / f"thin{seed}")
        assert fat.keys() == thin.keys()
        for key in fat:
            np.testing.assert_array_equal(fat[key], thin[key])
        meta = json.loads((d / "fat" / f"aa_seed{seed}" / "model.json").read_text())
        assert meta["provenance"]["seed"] == seed
        assert meta["provenance"]["torch_threads"] == 1
        a, b = read_table(d / "fat" / f"scores{seed}.parquet"), read_table(d / f"thin_scores{seed}.parquet")
        np.testing.assert_array_equal(a.features, b.features)
        np.testing.assert_array_equal(a.spectators["weight"], b.spectators["weight"])
        assert a.metadata["seed"] == seed
        same = {k: v for k, v in a.metadata.items() if k != "model"}
        assert same == {k: v for k, v in b.metadata.items() if k != "model"}
        assert a.metadata["model"] == str(d / "fat" / f"aa_seed{seed}")
    # different seeds give different scores
    first, second = (read_table(d / f"thin_scores{s}.parquet").features for s in (0, 1))
    assert not np.array_equal(first, second)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--seeds", "0,1", "-o", "{d}/m"], "has no {seed} field"),
        (["--seeds", "0,1", "--seed", "2", "-o", "{d}/m{seed}"], "--seed or --seeds, not both"),
        (["--seeds", "0,x", "-o", "{d}/m{seed}"], "comma-separated list of integers"),
        (["--seeds", "1,1", "-o", "{d}/m{seed}"], "repeats a seed"),
        (["--scores", "{d}/s.parquet"], "--score-features and --scores together"),
        (
            ["--seeds", "0,1", "--score-features", "{d}/test.parquet", "--scores", "{d}/s.parquet"],
            "--scores '{d}/s.parquet' has no {seed} field",
        ),
        (
            ["--seeds", "0", "--score-features", "{d}/test.parquet", "--scores", "{d}/m0"],
            "given as both -o/--output (seed 0) and --scores (seed 0)",
        ),
    ],
)
def test_bad_seed_options_are_one_line_errors_and_write_nothing(
    tables: dict[str, Path], extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tables["dir"]
    listing = sorted(p.name for p in d.iterdir())
    argv = ["train", "--features", str(tables["train"]), "--method", "iforest"]
    if "-o" not in extra:
        extra = [*extra, "-o", "{d}/m{seed}"]
    assert main(argv + [a.replace("{d}", str(d)) for a in extra]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert message.replace("{d}", str(d)) in err
    assert sorted(p.name for p in d.iterdir()) == listing


def test_a_seed_template_may_not_expand_onto_an_input(
    tables: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The output guard checks each seed's expanded path, not only the template."""
    d = tables["dir"]
    (d / "scores1.parquet").write_bytes(tables["test"].read_bytes())
    argv = ["train", "--features", str(tables["train"]), "--method", "iforest", "--seeds", "0,1"]
    argv += ["--score-features", str(d / "scores1.parquet"), "--scores", str(d / "scores{seed}.parquet")]
    assert main([*argv, "-o", str(d / "m{seed}")]) == 2
    assert "given as both --score-features and --scores (seed 1)" in capsys.readouterr().err
    assert not (d / "m0").exists()
    assert not (d / "scores0.parquet").exists()


def test_weight_column_is_passed_as_sample_weight(tmp_path: Path, ring_toy: dict[str, np.ndarray]) -> None:
    """A training table's ``weight`` spectator enters ``fit(..., sample_weight=w)`` (unless
    --no-weights); the model equals a direct fit with those weights."""
    import torch

    from hep_aa.config import load_config
    from hep_aa.detector import make_detector

    rng = np.random.default_rng(5)
    x = ring_toy["background"][:400]
    w = rng.uniform(0.2, 3.0, len(x))
    w[:20] = -0.5  # NLO-like negative weights are allowed
    names = [f"f{i}" for i in range(x.shape[1])]
    table = tmp_path / "weighted.parquet"
    write_table(table, x, names, labels=np.zeros(len(x)), types="background", spectators={"weight": w})
    config = tmp_path / "c.yaml"
    config.write_text("version: 1\ntraining: {epochs: 2, device: cpu}\n")
    argv = ["train", "--features", str(table), "--method", "vae", "--config", str(config), "--seed", "2"]
    before = torch.get_num_threads()
    try:
        assert main([*argv, "--threads", "1", "-o", str(tmp_path / "weighted")]) == 0
        assert main([*argv, "--threads", "1", "--no-weights", "-o", str(tmp_path / "plain")]) == 0
        direct = make_detector("vae", load_config(config), seed=2)
        direct.fit(x, np.zeros(len(x)), sample_weight=w, feature_names=names)
    finally:
        torch.set_num_threads(before)
    weighted, plain = _model_arrays(tmp_path / "weighted"), _model_arrays(tmp_path / "plain")
    for key, value in direct._arrays().items():
        np.testing.assert_array_equal(weighted[key], value)
    assert any(not np.array_equal(weighted[k], plain[k]) for k in weighted)
    provenance = json.loads((tmp_path / "weighted" / "model.json").read_text())["provenance"]
    assert provenance["sample_weight"] == "weight"
    provenance = json.loads((tmp_path / "plain" / "model.json").read_text())["provenance"]
    assert provenance["sample_weight"] is None


def test_weights_of_an_anomalies_table_follow_the_known_anomaly_subsample(
    tmp_path: Path, ring_toy: dict[str, np.ndarray]
) -> None:
    """--anomalies with a ``weight`` column, --features without: background events get unit
    weights and the known anomalies keep their own weights through the seeded subsample."""
    import torch

    from hep_aa.config import load_config
    from hep_aa.detector import make_detector

    names = [f"f{i}" for i in range(ring_toy["background"].shape[1])]
    bkg, anom = ring_toy["background"][:500], ring_toy["known"][:300]
    features = tmp_path / "bkg.parquet"
    write_table(features, bkg, names, labels=np.zeros(len(bkg)), types="background")
    w_anom = np.linspace(0.1, 5.0, len(anom))
    anomalies = tmp_path / "anom.parquet"
    write_table(
        anomalies, anom, names, labels=np.ones(len(anom)), types="known", spectators={"weight": w_anom}
    )
    config = tmp_path / "c.yaml"
    config.write_text("version: 1\ntraining: {epochs: 2, device: cpu}\n")
    argv = ["train", "--features", str(features), "--anomalies", str(anomalies), "--n-known", "100"]
    argv += ["--method", "supervised", "--config", str(config), "--seed", "4", "--threads", "1"]
    before = torch.get_num_threads()
    try:
        assert main([*argv, "-o", str(tmp_path / "cli")]) == 0
        assert main([*argv, "--no-weights", "-o", str(tmp_path / "unweighted")]) == 0
        pick = np.random.default_rng(4).choice(len(anom), 100, replace=False)
        direct = make_detector("supervised", load_config(config), seed=4)
        direct.fit(
            np.vstack([bkg, anom[pick]]),
            np.r_[np.zeros(len(bkg)), np.ones(100)],
            sample_weight=np.r_[np.ones(len(bkg)), w_anom[pick]],
            feature_names=names,
        )
    finally:
        torch.set_num_threads(before)
    cli, unweighted = _model_arrays(tmp_path / "cli"), _model_arrays(tmp_path / "unweighted")
    for key, value in direct._arrays().items():
        np.testing.assert_array_equal(cli[key], value)
    assert any(not np.array_equal(cli[k], unweighted[k]) for k in cli)


METHODS = ("vae", "vae-matched", "aa-vae", "supervised")


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
            _model_arrays(p) for p in (d / "fat" / f"{method}_seed1", d / "thin" / f"{method}_seed1")
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
