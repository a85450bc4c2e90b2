from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from hep_aa.metrics import roc_curve
from hep_aa.plotting import (
    plot_feature_distributions,
    plot_latent,
    plot_mean_images,
    plot_mjj_sculpting,
    plot_roc,
    plot_score_distributions,
    plot_sic,
    plot_training_history,
    save_figure,
)


@pytest.fixture
def curves() -> dict:
    rng = np.random.default_rng(0)
    out = {}
    for name, shift in (("A", 1.0), ("B", 2.0)):
        per_seed = []
        for _ in range(3):
            eps_s, eps_b, _ = roc_curve(rng.normal(size=2000), rng.normal(shift, 1, 500))
            per_seed.append((eps_s, eps_b))
        out[name] = per_seed
    return out


def test_roc_and_sic_axes(curves: dict) -> None:
    _fig, ax = plt.subplots()
    artists = plot_roc(curves, ax=ax)
    assert len(artists) == 2 * 2 + 1  # median + band per method, random line
    assert ax.get_yscale() == "log"
    assert "1/" in ax.get_ylabel()
    assert "efficiency" in ax.get_xlabel()
    # better separation -> higher rejection at eps_S = 0.5
    a, b = (np.interp(0.5, line.get_xdata(), line.get_ydata()) for line in ax.lines[:2])
    assert b > a
    _fig2, ax2 = plt.subplots()
    plot_sic(curves, 2000, ax=ax2)
    assert "SIC" in ax2.get_ylabel()
    plt.close("all")


def test_score_mjj_latent_features_training(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    fig, ax = plt.subplots()
    arts = plot_score_distributions(
        {"background": rng.normal(size=500), "sig (unseen)": rng.normal(2, 1, 100)}, ax=ax
    )
    assert len(arts) == 2
    assert ax.get_yscale() == "log"
    leg = [t.get_text() for t in ax.get_legend().get_texts()]
    assert leg == ["background (n=500)", "sig (unseen) (n=100)"]
    paths = save_figure(fig, tmp_path / "scores", ("pdf", "png"))
    assert [p.suffix for p in paths] == [".pdf", ".png"]
    assert all(p.stat().st_size > 1000 for p in paths)

    fig, ax = plt.subplots()
    plot_mjj_sculpting(rng.exponential(500, 1000) + 2000, rng.normal(size=1000), ax=ax)
    assert ax.get_xlabel() == "$m_{jj}$ [TeV]"
    fig, ax = plt.subplots()
    plot_latent({"bkg": rng.normal(size=(300, 4)), "sig": rng.normal(1, 1, (50, 4))}, ax=ax)
    assert "PC 1" in ax.get_xlabel()
    x = rng.normal(size=(200, 3))
    arts = plot_feature_distributions(
        x, ["mjj", "tau21", "m_j1"], {"a": x[:, 0] > 0, "b": x[:, 0] <= 0}, units="TeV"
    )
    axes = plt.gcf().axes
    assert axes[0].get_xlabel() == "mjj [TeV]"
    assert axes[1].get_xlabel() == "tau21"
    assert len(arts) == 6
    arts = plot_mean_images(rng.random((20, 784)), {"a": np.ones(20, bool)})
    assert arts[0].get_array().shape == (28, 28)
    history = {
        "pretrain": {"loss": [3, 2, 1.5], "val_loss": [3.1, 2.2, 1.6], "kl": [0.1, 0.5, 0.6]},
        "finetune": {
            "bkg_loss": [1.5, 1.6],
            "val_bkg_loss": [1.6, 1.7],
            "bkg_kl": [0.6, 0.5],
            "anom_error": [2, 4],
            "lambda": [0.75, 1.5],
        },
    }
    fig, grid = plt.subplots(2, 2)
    arts = plot_training_history(history, axes=list(grid.ravel()))
    assert grid[1, 1].get_ylabel() == r"$\lambda_{AA}$"
    assert len(grid[0, 0].lines) == 4 + 1  # four series and the stage boundary
    plt.close("all")
