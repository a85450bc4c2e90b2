"""Render every hep_aa figure type from small real or generated inputs, through the hep-aa CLI.

The documentation's tutorial figures come from this script (run by ``docs/conf.py`` at build
time, so no image is committed); it is also the check that every figure type renders.
Per dataset it runs the same commands as the Snakemake workflow, at a small scale:
``features`` → ``split`` → ``train`` (plain VAE, AA-VAE, IsolationForest, supervised; two
seeds) → ``score`` → ``evaluate`` → ``plot``.

Inputs:

- LHCO: the 1,000 real LHCO R&D events (``DATA/lhco/events_anomalydetection_tiny.h5``) when
  present, plus a Pythia 8 W' sample at other masses (the unseen type); without the real
  file, Pythia 8 QCD and W' events;
- MNIST: the 10,000 MNIST t10k digits (scikit-learn's 1,797 digits with ``--quick``) with
  Fashion-MNIST as the known anomaly when ``DATA`` has it, else uniform noise;
- VH: Pythia 8 Zh events, SM and the two SMEFT points of the default config;
- CICIDS2017: synthetic flows written in the CICIDS2017 CSV layout (real header quirks; the
  numbers are drawn from simple distributions, not real traffic).

Extra figures: a training curve where the divergence guard fired (``lhco/training_diverged``)
and the VH cutflow written to ROOT as a labelled histogram and read back
(``vh/cutflow``).

Usage::

    python docs/make_figures.py -o docs/_generated [--data ../shared/data] [--quick]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

METHODS = ("vae", "aa-vae", "iforest", "supervised")
SEEDS = (0, 1)
VH_POINTS = ["--point", "contact_uL", "--point", "czbox", "--pthat-min", "150"]
#: SMEFT samples as the workflow makes them: biased towards high pT, partially unweighted (exact)
VH_ANOMALY = ["--bias-pow", "3", "--bias-ref", "150", "--unweight-quantile", "0.5"]


def hep_aa(*args: str) -> None:
    """Run one ``hep-aa`` command in-process; raise if it fails."""
    from hep_aa.cli import main

    code = main([str(a) for a in args])
    if code != 0:
        raise RuntimeError(f"hep-aa {' '.join(map(str, args))} exited with {code}")


def _config(path: Path, quick: bool, **training: object) -> Path:
    epochs, finetune = (12, 5) if quick else (30, 10)
    extra = "".join(f", {k}: {v}" for k, v in training.items())
    path.write_text(
        "version: 1\n"
        f"training: {{device: cpu, epochs: {epochs}, finetune_epochs: {finetune}, ramp_epochs: 3{extra}}}\n"
        "evaluation: {bootstrap: 20}\n"
        "plots: {formats: [png]}\n"
    )
    return path


def _pipeline(
    name: str, tables: list[Path], known: list[str], work: Path, out: Path, quick: bool, methods=METHODS
) -> None:
    """split → train → score → evaluate → plot, as the workflow's rules do."""
    cfg = _config(work / "config.yaml", quick)
    train, test = work / "train.parquet", work / "test.parquet"
    hep_aa("split", *tables, "--test-fraction", "0.5", "--seed", "0", "--train", train, "--test", test)
    scores, models = [], []
    for method in methods:
        for seed in SEEDS:
            model = work / "models" / f"{method}_seed{seed}"
            known_args = [a for t in known for a in ("--known-type", t)]
            hep_aa("train", "--features", train, *known_args, "--method", method, "--config", cfg,
                   "--seed", seed, "-o", model)  # fmt: skip
            score = work / "scores" / f"{method}_seed{seed}.parquet"
            score.parent.mkdir(parents=True, exist_ok=True)
            hep_aa("score", model, test, "-o", score)
            scores.append(score)
            if seed == SEEDS[0] and method != "iforest":
                models.append(model)
    hep_aa("evaluate", *scores, "--config", cfg, "--table", work / "table", "-o", work / "metrics.json")
    shutil.copy(work / "table.md", out / "table.md")
    hep_aa("plot", *scores, *models, "--features", test, "--config", cfg, "-o", out)
    # stable names for the documentation: the seen type, and the unseen type hardest to find
    # (lowest AUC averaged over methods) — perfectly separated types make uninformative ROCs
    import json

    metrics = json.loads((work / "metrics.json").read_text())["methods"]
    unseen = sorted({k for m in metrics.values() for k in m["summary"]} - set(known))

    def mean_auc(kind: str) -> float:
        values = [m["summary"][kind]["auc"]["median"] for m in metrics.values() if kind in m["summary"]]
        return float(np.mean([v for v in values if v is not None] or [1.0]))

    aliases = [(known[0], "known")] + ([(min(unseen, key=mean_auc), "unseen")] if unseen else [])
    for kind, alias in aliases:
        for figure in ("roc", "sic"):
            shutil.copy(out / f"{figure}_{kind}.png", out / f"{figure}_{alias}.png")


def lhco(data: Path | None, work: Path, out: Path, quick: bool) -> None:
    real = data / "lhco" / "events_anomalydetection_tiny.h5" if data else None
    tables = []
    if real is not None and real.exists():
        # the real R&D signal is the known W' (3.5 TeV, X 500 GeV, Y 100 GeV)
        t = work / "real.parquet"
        hep_aa("features", "lhco", real, "--signal-type", "wprime_known", "-o", t)
        tables.append(t)
    else:
        for sample, extra, n in (
            ("qcd", ["--process", "qcd"], 300 if quick else 1000),
            ("signal", ["--process", "signal", "--m-wprime", "3500", "--m-x", "500", "--m-y", "100"], 150),
        ):
            h5 = work / f"{sample}.h5"
            hep_aa("generate", "lhco", *extra, "--n-events", n, "--seed", 11, "-o", h5)
            t = work / f"{sample}.parquet"
            label = (
                ["--label", "1", "--signal-type", "wprime_known"] if sample == "signal" else ["--label", "0"]
            )
            hep_aa("features", "lhco", h5, *label, "-o", t)
            tables.append(t)
    h5 = work / "unseen.h5"
    hep_aa("generate", "lhco", "--process", "signal", "--m-wprime", "3000", "--m-x", "300", "--m-y", "300",
           "--n-events", 100 if quick else 300, "--seed", 12, "-o", h5)  # fmt: skip
    hep_aa(
        "features",
        "lhco",
        h5,
        "--label",
        "1",
        "--signal-type",
        "wprime_unseen",
        "-o",
        work / "unseen.parquet",
    )
    tables.append(work / "unseen.parquet")
    _pipeline("lhco", tables, ["wprime_known"], work, out, quick)
    # a fine-tune pushed until the divergence guard fires: the curve marks the restored epoch
    cfg = _config(
        work / "diverge.yaml", quick, lambda_max=50.0, anomaly_term="linear", divergence_tolerance=0.02
    )
    model = work / "models" / "aa-vae_diverged"
    hep_aa("train", "--features", work / "train.parquet", "--known-type", "wprime_known", "--method", "aa-vae",
           "--config", cfg, "--seed", 0, "-o", model)  # fmt: skip
    tmp = work / "diverged_plot"
    hep_aa("plot", model, "--config", cfg, "-o", tmp)
    shutil.copy(tmp / "training_aa-vae_diverged.png", out / "training_diverged.png")


def mnist(data: Path | None, work: Path, out: Path, quick: bool) -> None:
    table = work / "all.parquet"
    n = ["--n-per-kind", 300 if quick else 1000]
    fashion_dir = data / "fashion-mnist" if data else None
    if fashion_dir is not None and fashion_dir.is_dir():
        from hep_aa.io.mnist import find_idx_pair

        # normal class: the 10,000 MNIST test digits, or scikit-learn's 1,797 digits (--quick)
        digits: list[object] = []
        if not quick and (data / "mnist").is_dir():
            images, labels = find_idx_pair(data / "mnist")
            digits = ["--images", images, "--labels", labels]
        fashion, _ = find_idx_pair(fashion_dir)
        hep_aa("features", "mnist", *digits, "--known-images", fashion, *n, "-o", table)
        known = "fashion-mnist"
    else:
        hep_aa("features", "mnist", "--known-kind", "noise", *n, "-o", table)
        known = "noise"
    _pipeline("mnist", [table], [known], work, out, quick, methods=("vae", "aa-vae", "iforest"))


def vh(data: Path | None, work: Path, out: Path, quick: bool) -> None:
    tables = []
    samples = (
        ("sm", 1200 if quick else 3000, [], 0, "background"),
        ("smeft", 500 if quick else 1200, ["--unweight", "contact_uL", *VH_ANOMALY], 1, "smeft_known"),
        ("unseen", 500 if quick else 1200, ["--unweight", "czbox", *VH_ANOMALY], 1, "smeft_unseen"),
    )
    for i, (sample, n, extra, label, kind) in enumerate(samples):
        root = work / f"{sample}.root"
        hep_aa("generate", "vh", "--n-events", n, *VH_POINTS, *extra, "--seed", 50_000 + i, "-o", root)
        t = work / f"{sample}.parquet"
        hep_aa("features", "vh", root, "--label", label, "--type", kind, "-o", t)
        tables.append(t)
    _pipeline("vh", tables, ["smeft_known"], work, out, quick)
    cutflow(work / "sm.root", work, out)


def cutflow(root: Path, work: Path, out: Path) -> None:
    """Cutflow of the SM sample, written with uproot as a labelled TH1D and read back."""
    import matplotlib.pyplot as plt
    import uproot

    from hep_aa.features.higgs import vh_features
    from hep_aa.features.registry import cutflow_histogram
    from hep_aa.io.root import iter_root_events
    from hep_aa.plotting import add_label, plot_cutflow, save_figure, use_style

    n_all = n_kept = n_finite = 0
    for events in iter_root_events(str(root), step_size=100_000):
        feats = vh_features(events)
        n_all += len(events)
        n_kept += int(feats.kept.sum())
        n_finite += int(np.all(np.isfinite(feats.matrix()), axis=1).sum())
    h = cutflow_histogram({"all events": n_all, "Z and h candidates": n_kept, "finite features": n_finite})
    with uproot.recreate(work / "cutflow.root") as f:
        f["sm/cutflow"] = h
    back = uproot.open(work / "cutflow.root")["sm/cutflow"].to_hist()
    use_style()
    fig, ax = plt.subplots()
    plot_cutflow(back, ax=ax)
    add_label(ax, "Simulation", 13.0, dataset="vh")
    save_figure(fig, out / "cutflow", ("png",))


HEADER = (
    " Destination Port, Flow Duration, Total Fwd Packets, Total Backward Packets,Total Length of Fwd Packets,"
    " Flow Bytes/s, Flow Packets/s, Flow IAT Mean, Fwd Header Length, Fwd Header Length, Average Packet Size,"
    "Init_Win_bytes_forward, Idle Mean, Label"
)


def cicids(data: Path | None, work: Path, out: Path, quick: bool) -> None:
    """Synthetic flows in the CICIDS2017 CSV layout (illustration only, not real traffic)."""
    rng = np.random.default_rng(7)
    rows = []
    spec = {  # family label: (n, log-mean duration [us], packets mean, bytes/packet)
        "BENIGN": (3000 if quick else 8000, 11.0, 12, 400),
        "DoS Hulk": (300, 9.0, 6, 60),
        "PortScan": (300, 4.0, 1.5, 2),
        "Bot": (200, 12.5, 30, 120),
    }
    for label, (n, mu, npk, bpp) in spec.items():
        dur = np.exp(rng.normal(mu, 1.5, n)) + 1
        fwd = rng.poisson(npk, n) + 1
        bwd = rng.poisson(npk * 0.8, n)
        size = np.abs(rng.normal(bpp, bpp / 3 + 1, n))
        length = fwd * size
        port = rng.choice([80, 443, 22, 8080] if label != "PortScan" else np.arange(1, 1024), n)
        for k in range(n):
            rate_b = length[k] / dur[k] * 1e6
            rate_p = (fwd[k] + bwd[k]) / dur[k] * 1e6
            iat = dur[k] / max(fwd[k] + bwd[k] - 1, 1)
            rows.append(
                f"{port[k]},{dur[k]:.0f},{fwd[k]},{bwd[k]},{length[k]:.0f},{rate_b:.3f},{rate_p:.3f},{iat:.1f},"
                f"{20 * fwd[k]},{20 * fwd[k]},{size[k]:.1f},{rng.choice([8192, 29200, -1])},"
                f"{dur[k] * rng.random():.0f},{label}"
            )
    csv = work / "Synthetic-WorkingHours.pcap_ISCX.csv"
    csv.write_bytes((HEADER + "\n" + "\n".join(rows) + "\n").encode("cp1252"))
    table = work / "all.parquet"
    hep_aa("features", "cicids", csv, "-o", table)
    _pipeline("cicids", [table], ["DoS"], work, out, quick, methods=("vae", "aa-vae", "iforest"))


DATASETS = {"lhco": lhco, "mnist": mnist, "vh": vh, "cicids": cicids}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=Path(__file__).parent / "_generated")
    parser.add_argument(
        "--data", type=Path, help="Folder of real samples (default: ../shared/data if present)"
    )
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS))
    parser.add_argument(
        "--quick", action="store_true", help="Fewer events and epochs (documentation builds)."
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    data = args.data
    if data is None:
        guess = Path(__file__).resolve().parents[2] / "shared" / "data"
        data = guess if guess.is_dir() else None
    for name in args.datasets:
        start = time.perf_counter()
        out = args.output / name
        work = args.output / "work" / name
        for d in (out, work):
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir(parents=True)
        DATASETS[name](data, work, out, args.quick)
        n_png = len(list(out.glob("*.png")))
        seconds = time.perf_counter() - start
        sys.stderr.write(f"make_figures: {name}: {n_png} figures in {seconds:.0f} s\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
