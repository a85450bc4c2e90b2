from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from hep_aa.features.higgs import VH_FEATURES
from hep_aa.features.registry import feature
from hep_aa.metrics import roc_curve
from hep_aa.plotting import (
    add_label,
    bootstrap_band,
    plot_cutflow,
    plot_feature_distributions,
    plot_latent,
    plot_mean_images,
    plot_mjj_sculpting,
    plot_roc,
    plot_score_distributions,
    plot_sic,
    plot_training_history,
    restored_epochs,
    save_figure,
    score_binning,
)


@pytest.fixture(autouse=True)
def _close() -> None:
    yield
    plt.close("all")


@pytest.fixture
def scores() -> dict:
    rng = np.random.default_rng(0)
    return {
        name: [(rng.normal(size=2000), rng.normal(shift, 1, 500)) for _ in range(3)]
        for name, shift in (("A", 1.0), ("B", 2.5))
    }


@pytest.fixture
def curves(scores: dict) -> dict:
    return {name: [roc_curve(b, s)[:2] for b, s in per_seed] for name, per_seed in scores.items()}


def _legend_texts(ax: plt.Axes) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_roc_axes_follow_the_statistics(curves: dict, scores: dict) -> None:
    _fig, ax = plt.subplots()
    first = {k: v[0] for k, v in scores.items()}
    plot_roc(curves, n_background=2000, scores=first, n_bootstrap=20, title="anomaly: X", ax=ax)
    assert ax.get_yscale() == "log"
    assert ax.get_ylabel() == r"Background rejection $1/\varepsilon_B$"
    assert ax.get_xlabel() == r"Signal efficiency $\varepsilon_S$"
    # 1/eps_B cannot exceed N_B: the axis ends just above it instead of decades higher
    assert 2000 <= ax.get_ylim()[1] <= 2000 * 2.5
    texts = _legend_texts(ax)
    assert texts[:2] == ["A", "B"]
    # the seed-band note appears once, not once per method; bootstrap band and the
    # statistics-limited (dotted) plateau are explained once too
    assert sum("3 seeds" in t for t in texts) == 1
    assert sum("bootstrap" in t for t in texts) == 1
    assert any("no background passes" in t for t in texts)
    assert ax.get_legend().get_title().get_text() == "anomaly: X"
    # B separates better: higher median rejection at eps_S = 0.5
    med = [line for line in ax.lines if line.get_linestyle() == "-" and len(line.get_xdata()) > 100][:2]
    a, b = (np.interp(0.5, line.get_xdata(), line.get_ydata()) for line in med)
    assert b > a
    # dotted segments sit at N_B (lower limits), their last point joins the measured curve
    dotted = [line for line in ax.lines if line.get_linestyle() == ":" and line.get_color() != "k"]
    assert dotted
    assert all(np.allclose(line.get_ydata()[:-1], 2000) for line in dotted)


def test_bootstrap_band_brackets_the_curve(scores: dict) -> None:
    b, s = scores["B"][0]
    lo, hi = bootstrap_band(b, s, "roc", n_bootstrap=50, seed=1)
    eps_s, eps_b, _ = roc_curve(b, s)
    from hep_aa.plotting.curves import EFF_GRID, efficiency_grid

    central = 1.0 / np.maximum(efficiency_grid(eps_s, eps_b), 1 / 2000)
    mid = (EFF_GRID > 0.2) & (EFF_GRID < 0.9)
    assert np.all(lo[mid] <= central[mid] * 1.05)
    assert np.all(hi[mid] >= central[mid] / 1.05)
    assert np.all(hi[mid] > lo[mid])


def test_sic_and_non_collider_wording(curves: dict) -> None:
    _fig, ax = plt.subplots()
    plot_sic(curves, 2000, dataset="mnist", ax=ax)
    assert "SIC" in ax.get_ylabel()
    assert "True-positive rate" in ax.get_xlabel()
    _fig, ax = plt.subplots()
    plot_roc(curves, n_background=2000, dataset="mnist", ax=ax)
    assert "false-positive rate" in ax.get_ylabel()
    assert "rejection" not in ax.get_ylabel()
    add_label(ax, "Simulation", 13.0, dataset="mnist")
    shown = [t.get_text() for t in ax.texts]
    assert not any("Simulation" in t or "TeV" in t for t in shown)
    assert any("MNIST" in t for t in shown)
    _fig, ax = plt.subplots()
    add_label(ax, "Simulation", 13.0, dataset="lhco")
    shown = " ".join(t.get_text() for t in ax.texts)
    assert "Simulation" in shown
    assert "13 TeV" in shown


def test_score_binning_handles_heavy_tails() -> None:
    rng = np.random.default_rng(2)
    heavy = np.exp(rng.normal(0, 2.5, 5000))  # positive, many decades
    kind, edges = score_binning(heavy, 40)
    assert kind == "log"
    assert edges[0] == heavy.min()
    assert edges[-1] >= heavy.max()
    # one huge outlier group on a signed score: equal-width bins would hold nearly everything
    signed = np.r_[rng.normal(size=5000), rng.normal(500, 1, 40)]
    kind, edges = score_binning(signed, 40)
    assert kind == "quantile"
    counts, _ = np.histogram(np.clip(signed, edges[0], edges[-1]), edges)
    assert counts.max() < 0.1 * signed.size
    assert score_binning(rng.normal(size=1000), 40)[0] == "linear"


def test_score_distributions_are_labelled_densities(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    fig, ax = plt.subplots()
    bkg, sig = np.exp(rng.normal(0, 2, 500)), np.exp(rng.normal(3, 2, 100))
    arts = plot_score_distributions({"background": bkg, "sig (unseen)": sig}, ax=ax, title="AA-VAE")
    assert len(arts) == 2
    assert ax.get_yscale() == "log"
    assert ax.get_xscale() == "log"
    assert "dN" in ax.get_ylabel()
    assert "log_{10}" in ax.get_ylabel()
    assert _legend_texts(ax) == ["background (n=500)", "sig (unseen) (n=100)"]
    # unit area in log10(s): sum(density * width) == fraction of positive scores == 1
    edges = np.log10(arts[0][0].stairs.get_data().edges)
    values = arts[0][0].stairs.get_data().values
    assert np.sum(values * np.diff(edges)) == pytest.approx(1.0)
    paths = save_figure(fig, tmp_path / "scores", ("pdf", "png"))
    assert [p.suffix for p in paths] == [".pdf", ".png"]
    assert all(p.stat().st_size > 1000 for p in paths)
    fig, ax = plt.subplots()
    plot_score_distributions({"background": rng.normal(size=300), "x": rng.normal(1, 1, 50)}, ax=ax)
    assert ax.get_xscale() == "linear"
    assert ax.get_ylabel() == r"$1/N\;dN/ds$"


def test_mjj_sculpting_has_ratio_and_no_bars_on_empty_bins() -> None:
    rng = np.random.default_rng(3)
    mjj = np.r_[rng.exponential(500, 2000) + 2000, [9000.0, 9500.0]]  # sparse tail: empty bins
    s = rng.normal(size=mjj.size)
    _fig, (ax, rax) = plt.subplots(2, 1, sharex=True)
    plot_mjj_sculpting(mjj, s, ax=ax, rax=rax, bins=30)
    assert rax.get_xlabel() == "$m_{jj}$ [TeV]"
    assert rax.get_ylabel() == "Cut / no cut"
    assert "dN" in ax.get_ylabel()
    assert "TeV" in ax.get_ylabel()
    # error bars only on non-empty bins: fewer than 30 bars for the no-cut histogram
    bars = [c for c in ax.containers if type(c).__name__ == "ErrorbarContainer"]
    n_points = [len(c.lines[2][0].get_segments()) for c in bars]
    edges = np.linspace(*np.quantile(mjj / 1e3, [0.001, 0.999]), 31)
    nonempty = int((np.histogram(mjj / 1e3, edges)[0] > 0).sum())
    assert n_points[0] == nonempty < 30
    # a random score does not sculpt: the ratio is flat within errors
    ratio = rax.containers[0].lines[0].get_ydata()
    assert np.nanmedian(ratio) == pytest.approx(1.0, abs=0.25)
    _fig, ax = plt.subplots()
    plot_mjj_sculpting(mjj, s, ax=ax)  # main panel only
    assert ax.get_xlabel() == "$m_{jj}$ [TeV]"


def test_feature_grid_uses_registry_labels() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, len(VH_FEATURES)))
    groups = {"SM $Zh$": x[:, 0] > 0, "SMEFT": x[:, 0] <= 0}
    arts = plot_feature_distributions(x, VH_FEATURES, groups, dataset="vh")
    fig = plt.gcf()
    labels = [ax.get_xlabel() for ax in fig.axes if ax.get_visible()]
    assert labels == [feature(n, dataset="vh").axis_label for n in VH_FEATURES]
    assert "$\\phi_{\\mathrm{CS}}$ [rad]" in labels
    assert not any(n in labels for n in VH_FEATURES)  # no raw column names
    assert not any("GeV" in lab for lab in labels if "phi" in lab or "eta" in lab)
    assert len(arts) == 2 * len(VH_FEATURES)
    assert len(fig.legends) == 1  # one legend for the grid
    fig.canvas.draw()  # every label is valid mathtext
    x = rng.normal(size=(200, 3))
    plot_feature_distributions(
        x, ["mjj", "tau21_jmin", "mj_min"], {"a": np.ones(200, bool)}, dataset="lhco", feature_set="community"
    )
    axes = plt.gcf().axes
    assert axes[0].get_xlabel() == "$m_{jj}$ [TeV]"
    assert axes[1].get_xlabel() == r"$\tau_{21}^{j,\mathrm{light}}$"
    assert axes[0].get_ylabel().endswith("[TeV$^{-1}$]")


def test_latent_and_images() -> None:
    rng = np.random.default_rng(5)
    _fig, ax = plt.subplots()
    plot_latent({"bkg": rng.normal(size=(300, 4)), "sig": rng.normal(1, 1, (50, 4))}, ax=ax)
    assert "PC 1" in ax.get_xlabel()
    arts = plot_mean_images(rng.random((20, 784)), {"a": np.ones(20, bool)})
    assert arts[0].get_array().shape == (28, 28)


HISTORY = {
    "pretrain": {
        "loss": [3, 2, 1.5],
        "val_loss": [3.1, 2.2, 1.6],
        "kl": [0.1, 0.5, 0.6],
        "best_epoch": [2.0],
    },
    "finetune": {
        "epoch": [0.0, 1.0, 2.0],
        "bkg_loss": [1.5, 1.6, 9.0],
        "val_bkg_loss": [1.6, 1.7, 9.5],
        "bkg_kl": [0.6, 0.5, 0.4],
        "anom_error": [2, 4, 30],
        "lambda": [0.75, 1.5, 1.5],
        "stopped_early": [1.0],
    },
}


def test_training_history_marks_the_restored_epoch() -> None:
    _fig, grid = plt.subplots(2, 2)
    plot_training_history(HISTORY, axes=list(grid.ravel()))
    assert grid[1, 1].get_ylabel() == r"$\lambda_{AA}$"
    texts = _legend_texts(grid[0, 0])
    assert "kept (best validation)" in texts
    assert "guard: restored AA epoch 1" in texts
    assert "guard fired (diverged)" in texts
    restored = [line for line in grid[0, 0].lines if line.get_linestyle() == "-."]
    assert restored
    assert restored[0].get_xdata()[0] == 3 + 1
    # the guard's own record wins over the inference; -1 = the pretrained state
    marks = restored_epochs({**HISTORY, "finetune": {**HISTORY["finetune"], "restored_epoch": [-1.0]}})
    assert marks["finetune_restored"] == -1.0
    assert marks["finetune_diverged"] == 2.0
    marks = restored_epochs(
        {**HISTORY, "finetune": {**HISTORY["finetune"], "guard": {"epoch": 2, "restored_epoch": 0}}}
    )
    assert marks["finetune_restored"] == 0.0
    # the record hep_aa.training.loops.finetune writes: guard_epoch and restored_epoch
    recorded = {"stopped_early": [1.0], "guard_epoch": [2.0], "restored_epoch": [0.0]}
    marks = restored_epochs({**HISTORY, "finetune": {**HISTORY["finetune"], **recorded}})
    assert marks == {"pretrain_best": 2.0, "finetune_restored": 0.0, "finetune_diverged": 2.0}
    quiet = {"stopped_early": [0.0], "guard_epoch": [-1.0], "restored_epoch": [2.0]}
    assert (
        restored_epochs({**HISTORY, "finetune": {**HISTORY["finetune"], **quiet}})["finetune_restored"]
        is None
    )
    calm = {**HISTORY, "finetune": {**HISTORY["finetune"], "stopped_early": [0.0]}}
    assert restored_epochs(calm)["finetune_restored"] is None
    _fig, grid = plt.subplots(2, 2)
    plot_training_history({"pretrain": HISTORY["pretrain"]}, axes=list(grid.ravel()))
    assert not [line for line in grid[0, 0].lines if line.get_linestyle() == "-."]


def test_cutflow_plot() -> None:
    _fig, ax = plt.subplots()
    plot_cutflow({"all events": 1000, "Z and h candidates": 500, "finite features": 498}, ax=ax)
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "all events",
        "Z and h candidates",
        "finite features",
    ]
    assert any("50.0%" in t.get_text() for t in ax.texts)


# --- weighted events (negative weights allowed) ------------------------------------------------


def _weighted_scores(seed: int = 4) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    b, s = rng.normal(size=4000), rng.normal(1.5, 1, 1500)
    wb = rng.exponential(1.0, b.size) * np.where(rng.random(b.size) < 0.1, -1.0, 1.0)
    ws = rng.exponential(1.0, s.size) * np.where(rng.random(s.size) < 0.1, -1.0, 1.0)
    return b, s, wb, ws


def test_weighted_score_histograms_use_sum_of_weights_and_its_errors() -> None:
    b, s, wb, ws = _weighted_scores()
    _fig, ax = plt.subplots()
    arts = plot_score_distributions(
        {"background": b, "sig": s}, weights={"background": wb, "sig": ws}, ax=ax, bins=20, log=False
    )
    assert ax.get_ylabel() == r"$1/\Sigma w\;dW/ds$"
    assert _legend_texts(ax) == [
        f"background (n=4000, Σw={wb.sum():.4g})",
        f"sig (n=1500, Σw={ws.sum():.4g})",
    ]
    # the filled background draws its error bars beside the histogram, the signal step with it
    bars = [c.lines[2][0] for c in ax.containers if c.lines[2] and len(c.lines[2][0].get_segments())]
    assert len(bars) == 2
    assert bars[1] is arts[1][0].errorbar.lines[2][0]
    for art, bar, v, w in ((arts[0][0], bars[0], b, wb), (arts[1][0], bars[1], s, ws)):
        data = art.stairs.get_data()
        edges = data.edges
        x = np.clip(v, edges[0], edges[-1])
        sumw, _ = np.histogram(x, edges, weights=w)
        sumw2, _ = np.histogram(x, edges, weights=w * w)
        scale = 1.0 / w.sum() / np.diff(edges)
        np.testing.assert_allclose(data.values, sumw * scale, rtol=1e-12)
        assert np.sum(data.values * np.diff(edges)) == pytest.approx(1.0)  # unit area in Σw
        # error bars: sqrt(sum of squared weights) per bin
        segments = bar.get_segments()
        half = np.array([(seg[1][1] - seg[0][1]) / 2 for seg in segments])
        np.testing.assert_allclose(half, np.sqrt(sumw2) * scale, rtol=1e-9)


def test_weighted_roc_and_sic_curves(tmp_path: Path) -> None:
    from hep_aa.metrics import effective_count
    from hep_aa.plotting.curves import EFF_GRID, efficiency_grid

    b, s, wb, ws = _weighted_scores()
    eps_s, eps_b, _ = roc_curve(b, s, background_weights=wb, signal_weights=ws)
    n_eff = effective_count(wb)
    assert n_eff < b.size
    _fig, ax = plt.subplots()
    plot_roc(
        {"w": [(eps_s, eps_b)]},
        n_background={"w": n_eff},
        scores={"w": (b, s, wb, ws)},
        n_bootstrap=30,
        ax=ax,
        weighted=True,
    )
    line = next(ln for ln in ax.lines if ln.get_linestyle() == "-" and len(ln.get_xdata()) == len(EFF_GRID))
    expected = 1.0 / np.maximum(efficiency_grid(eps_s, eps_b), 1.0 / n_eff)
    shown = line.get_ydata()
    ok = np.isfinite(shown)
    np.testing.assert_allclose(shown[ok], expected[ok])
    assert any("effective" in t.get_text() for t in ax.texts)
    assert any("beyond the test statistics" in t for t in _legend_texts(ax))  # weighted wording
    # the weighted curve differs from the unweighted one
    eps_s0, eps_b0, _ = roc_curve(b, s)
    assert not np.allclose(efficiency_grid(eps_s0, eps_b0), efficiency_grid(eps_s, eps_b))
    # bootstrap band with weights brackets the weighted curve
    lo, hi = bootstrap_band(b, s, "roc", background_weights=wb, signal_weights=ws, n_bootstrap=40, seed=2)
    mid = (EFF_GRID > 0.2) & (EFF_GRID < 0.9)
    assert np.all(lo[mid] <= expected[mid] * 1.05)
    assert np.all(hi[mid] >= expected[mid] / 1.05)
    # SIC: points with fewer than 25 effective background events are dropped
    _fig, ax = plt.subplots()
    plot_sic({"w": [(eps_s, eps_b)]}, {"w": n_eff}, ax=ax)
    sic_line = ax.lines[0]
    grid_eb = efficiency_grid(eps_s, eps_b)
    shown = np.asarray(sic_line.get_ydata())
    reliable = grid_eb * n_eff >= 25 - 1e-9
    assert np.all(np.isnan(shown[~reliable]))
    np.testing.assert_allclose(shown[reliable], EFF_GRID[reliable] / np.sqrt(grid_eb[reliable]))


def test_efficiency_grid_with_a_non_monotonic_signal_efficiency() -> None:
    from hep_aa.plotting.curves import efficiency_grid

    # eps_S dips (negative signal weight): the grid takes eps_B where eps_S is first reached
    eps_s = np.array([0.0, 0.5, 0.3, 0.6, 1.0])
    eps_b = np.array([0.0, 0.1, 0.2, 0.3, 1.0])
    got = efficiency_grid(eps_s, eps_b, np.array([0.25, 0.5, 0.55, 0.8]))
    np.testing.assert_allclose(got[[0, 3]], [0.05, 0.3 + 0.7 * 0.5])
    assert 0.1 <= got[1] <= 0.2
    assert got[2] == pytest.approx(0.2 + 0.1 * 0.5)


def test_sic_says_why_it_is_empty() -> None:
    # perfectly separated: fewer than 25 background events pass wherever eps_S < 1
    b, s = np.linspace(0, 1, 200), np.linspace(2, 3, 100)
    _fig, ax = plt.subplots()
    plot_sic({"A": [roc_curve(b, s)[:2]]}, 200, ax=ax)
    assert any("SIC not measurable" in t.get_text() for t in ax.texts)
    _fig, ax = plt.subplots()
    rng = np.random.default_rng(0)
    plot_sic({"A": [roc_curve(rng.normal(size=2000), rng.normal(1, 1, 500))[:2]]}, 2000, ax=ax)
    assert not any("SIC not measurable" in t.get_text() for t in ax.texts)


def test_weighted_feature_distributions() -> None:
    from hep_aa.exceptions import DataFormatError

    rng = np.random.default_rng(6)
    x = rng.normal(size=(3000, 2))
    w = np.exp(x[:, 0]) * np.where(rng.random(3000) < 0.1, -1.0, 1.0)
    groups = {"background": np.arange(3000) < 2000, "sig": np.arange(3000) >= 2000}
    arts = plot_feature_distributions(x, ["f0", "f1"], groups, weights=w, bins=20)
    data = arts[0][0].stairs.get_data()  # f0, background
    m = groups["background"]
    expected, _ = np.histogram(np.clip(x[m, 0], data.edges[0], data.edges[-1]), data.edges, weights=w[m])
    np.testing.assert_allclose(data.values, expected / w[m].sum() / np.diff(data.edges), rtol=1e-12)
    assert arts[0][0].stairs.axes.get_ylabel().startswith(r"$1/\Sigma w\;dW/d")
    plain = plot_feature_distributions(x, ["f0", "f1"], groups, bins=20)
    assert plain[0][0].stairs.axes.get_ylabel().startswith(r"$1/N\;dN/d")
    assert not np.allclose(plain[0][0].stairs.get_data().values, data.values)  # weights shift f0
    with pytest.raises(DataFormatError, match="'sig' have total weight"):
        plot_feature_distributions(x, ["f0"], groups, weights=np.where(groups["sig"], -1.0, 1.0))


def test_weighted_mjj_sculpting_cut_and_errors() -> None:
    rng = np.random.default_rng(8)
    n = 20_000
    mjj = rng.exponential(600, n) + 2000
    s = rng.normal(size=n)
    w = rng.exponential(1.0, n) * np.where(rng.random(n) < 0.1, -1.0, 1.0)
    _fig, (ax, rax) = plt.subplots(2, 1, sharex=True)
    plot_mjj_sculpting(mjj, s, ax=ax, rax=rax, bins=20, weights=w)
    label = next(t for t in _legend_texts(ax) if "score cut" in t)
    eps = float(label.rsplit("= ", 1)[1])
    assert eps == pytest.approx(0.1, abs=0.005)  # the weighted fraction passing the cut
    # the score does not depend on mjj: the ratio is flat at 1 within its errors
    ratio = rax.containers[0]
    y = ratio.lines[0].get_ydata()
    seg = next(
        c.get_segments() for c in ratio.lines[2] if c.get_segments()[0][0][0] == c.get_segments()[0][1][0]
    )
    half = np.array([(a[1][1] - a[0][1]) / 2 for a in seg])
    pulls = (np.asarray(y) - 1.0) / half
    assert np.all(half > 0)
    assert np.mean(np.abs(pulls) < 1) == pytest.approx(0.68, abs=0.25)
    assert np.all(np.abs(pulls) < 4)
    # main panel: unit area in sum of weights
    stairs = [a for a in ax.patches if hasattr(a, "get_data")]
    data = stairs[0].get_data()
    assert np.sum(data.values * np.diff(data.edges)) == pytest.approx(1.0, abs=1e-9)
