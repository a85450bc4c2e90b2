"""One-vs-rest Anomaly Awareness on real MNIST and Fashion-MNIST (the Deep SAD protocol).

For each normal class ``c`` (all ten), one other class ``k`` is the *known* anomaly, of which
a fraction γ_l of the training set is labelled (Ruff et al., "Deep Semi-Supervised Anomaly
Detection", ICLR 2020, scenario (i): n_known = γ_l / (1 − γ_l) × n_normal); every other class
is an *unseen* anomaly. Reported per class: AUROC on the unseen classes only (the claim of
Anomaly Awareness), on all nine anomaly classes (Deep SAD's number, printed beside ours), and
on the known class. Methods share data, seeds and epoch budget:

- ``vae``: plain VAE, trained to convergence (early stopping);
- ``vae-matched``: the same pretrained VAE trained on background for the fine-tune's epochs
  (the epoch-matched control of AA: only the anomaly term differs);
- ``aa-vae``: the default Anomaly Awareness fine-tune;
- ``aa-vae-paper``: the paper's exact linear objective (λ_max = 1.5).

Data: MNIST has only its test set here (``../shared/data/mnist``): the 10,000 t10k images are
split 50/50 (stratified, fixed seed 0) into training and test halves, as are Fashion-MNIST's
by default (``--split official`` uses its 60k/10k split instead).

    python benchmarks/one_vs_rest.py --dataset mnist --gamma 0.05 --seeds 0 1 2 --workers 2
    python benchmarks/one_vs_rest.py --dataset fashion --gamma 0.01 0.05 0.1 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

#: Deep SAD, Ruff et al. ICLR 2020, Table 2 (AUC %, mean ± std over 90 experiments: ten normal
#: classes × nine known-anomaly classes; test AUC over all nine anomaly classes).
DEEP_SAD = {
    "mnist": {0.01: (96.4, 2.7), 0.05: (96.7, 2.3), 0.1: (96.9, 2.3)},
    "fashion": {0.01: (90.0, 6.4), 0.05: (90.5, 6.5), 0.1: (91.3, 6.0)},
}

#: the model hints ``hep-aa features mnist`` writes into its tables (the workflow's image models)
IMAGE_HINTS: dict[str, Any] = {
    "scaler": "none", "decoder": "bernoulli", "hidden": (512, 256), "latent_dim": 20, "batch_size": 64,
    "epochs": 200, "patience": 20,
}  # fmt: skip


def load(dataset: str, data: Path, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training and test images (flat, [0, 1]) and labels."""
    from hep_aa.io.mnist import read_idx_images, read_idx_labels

    folder = data / ("mnist" if dataset == "mnist" else "fashion-mnist")
    x = read_idx_images(folder / "t10k-images-idx3-ubyte.gz")
    y = read_idx_labels(folder / "t10k-labels-idx1-ubyte.gz")
    if split == "official":
        if dataset == "mnist":
            raise SystemExit("--split official needs MNIST's training set, which is not in the data folder")
        x_tr = read_idx_images(folder / "train-images-idx3-ubyte.gz")
        y_tr = read_idx_labels(folder / "train-labels-idx1-ubyte.gz")
        return x_tr, y_tr, x, y
    rng = np.random.default_rng(0)
    train = np.zeros(len(y), dtype=bool)
    for c in range(10):
        idx = np.flatnonzero(y == c)
        train[rng.permutation(idx)[: len(idx) // 2]] = True
    return x[train], y[train], x[~train], y[~train]


def methods(epochs: int, finetune_epochs: int) -> dict[str, tuple[str, dict[str, Any]]]:
    """Benchmark method name → (workflow method, hyperparameter overrides)."""
    common = {**IMAGE_HINTS, "epochs": epochs, "finetune_epochs": finetune_epochs}
    return {
        "vae": ("vae", common),
        "vae-matched": ("vae-matched", common),
        "aa-vae": ("aa-vae", common),
        "aa-vae-paper": ("aa-vae", {**common, "anomaly_term": "linear", "lambda_max": 1.5}),
    }


def run_one(task: dict[str, Any]) -> dict[str, Any]:
    """Fit one method on one (normal class, known class, γ_l, seed) setting; AUROCs."""
    import warnings

    import torch

    from hep_aa.detector import make_detector
    from hep_aa.metrics.roc import auc_from_scores

    torch.set_num_threads(task["threads"])
    x_tr, y_tr, x_te, y_te = task["data"]
    c, k, gamma, seed = task["normal"], task["known"], task["gamma"], task["seed"]
    normal = x_tr[y_tr == c]
    n_known = max(1, round(gamma / (1.0 - gamma) * len(normal)))
    rng = np.random.default_rng(1000 * seed + 10 * c + k)
    pool = x_tr[y_tr == k]
    known = pool[rng.choice(len(pool), n_known, replace=False)]
    x = np.vstack([normal, known])
    y = np.r_[np.zeros(len(normal)), np.ones(len(known))]
    method, params = task["method"]
    det = make_detector(method, seed=seed, device=task["device"], **{**task["overrides"], **params})
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        det.fit(x, y)
    fit_s = time.perf_counter() - start
    scores = det.decision_function(x_te)
    s_norm = scores[y_te == c]
    unseen = (y_te != c) & (y_te != k)
    hist = getattr(det, "history_", {})
    guard = hist.get("finetune", {})
    return {
        **{key: task[key] for key in ("name", "normal", "known", "gamma", "seed")},
        "auc_unseen": auc_from_scores(s_norm, scores[unseen]),
        "auc_all": auc_from_scores(s_norm, scores[y_te != c]),
        "auc_known": auc_from_scores(s_norm, scores[y_te == k]),
        "n_normal": len(normal),
        "n_known": n_known,
        "fit_s": fit_s,
        "pretrain_best_epoch": hist.get("pretrain", {}).get("best_epoch", [None])[0],
        "pretrain_epochs": len(hist.get("pretrain", {}).get("epoch", [])),
        "guard_tripped": bool(guard.get("stopped_early", [0.0])[0]),
        "warnings": sorted({type(w.message).__name__ for w in caught}),
    }


def summarise(rows: list[dict[str, Any]], dataset: str, names: list[str]) -> str:
    """Markdown tables: per class median over seeds, the mean over classes, wins vs controls."""
    lines = []
    for gamma in sorted({r["gamma"] for r in rows}):
        sub = [r for r in rows if r["gamma"] == gamma]
        classes = sorted({r["normal"] for r in sub})
        med: dict[str, dict[int, dict[str, float]]] = {}
        for name in names:
            med[name] = {}
            for c in classes:
                rs = [r for r in sub if r["name"] == name and r["normal"] == c]
                if rs:
                    med[name][c] = {
                        key: float(np.median([r[key] for r in rs]))
                        for key in ("auc_unseen", "auc_all", "auc_known")
                    }
        ref = DEEP_SAD.get(dataset, {}).get(gamma)
        lines.append(
            f"\n### {dataset} one-vs-rest, γ_l = {gamma}: unseen-class AUROC, median of seeds "
            "(mean over classes: [lowest, highest] seed)\n"
        )
        lines.append(
            "| method | "
            + " | ".join(f"{c}→{(c + 1) % 10}" for c in classes)
            + " | mean | all-class mean | guard trips | wins vs vae / vae-matched |"
        )
        lines.append("|---|" + "---:|" * (len(classes) + 4))
        for name in names:
            if not med[name]:
                continue
            vals = [med[name][c]["auc_unseen"] for c in classes]
            alls = [med[name][c]["auc_all"] for c in classes]
            trips = sum(r["guard_tripped"] for r in sub if r["name"] == name)
            runs = sum(1 for r in sub if r["name"] == name)
            wins = []
            for ctrl in ("vae", "vae-matched"):
                if ctrl in med and med[ctrl] and name != ctrl:
                    wins.append(
                        str(sum(med[name][c]["auc_unseen"] > med[ctrl][c]["auc_unseen"] for c in classes))
                    )
                else:
                    wins.append("–")
            per_seed = [
                np.mean([r["auc_unseen"] for r in sub if r["name"] == name and r["seed"] == seed])
                for seed in sorted({r["seed"] for r in sub})
            ]
            lines.append(
                f"| {name} | "
                + " | ".join(f"{v:.3f}" for v in vals)
                + f" | **{np.mean(vals):.3f}** [{min(per_seed):.3f}, {max(per_seed):.3f}] | {np.mean(alls):.3f}"
                + f" | {trips}/{runs} | {' / '.join(wins)} of {len(classes)} |"
            )
        if ref:
            lines.append(
                f"\nDeep SAD (Ruff et al. 2020, Table 2), all nine anomaly classes, mean ± std over 90 "
                f"experiments: {ref[0]:.1f} ± {ref[1]:.1f} (compare with the all-class mean column ×100)."
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", choices=["mnist", "fashion"], default="mnist")
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--split", choices=["t10k", "official"], default="t10k")
    parser.add_argument("--classes", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--gamma", type=float, nargs="+", default=[0.05])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="*", default=["vae", "vae-matched", "aa-vae"])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--finetune-epochs", type=int, default=30)
    parser.add_argument(
        "--set", nargs="*", default=[], metavar="KEY=VALUE", help="hyperparameter overrides (JSON values)"
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=METHOD:JSON",
        help="extra method variant, e.g. 'aa-m5=aa-vae:{\"margin\": 5}' (repeatable)",
    )
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 1)))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    overrides = {kv.split("=", 1)[0]: json.loads(kv.split("=", 1)[1]) for kv in args.set}
    data = load(args.dataset, args.data, args.split)
    table = methods(args.epochs, args.finetune_epochs)
    for spec in args.variant:
        name, rest = spec.split("=", 1)
        method, params = rest.split(":", 1)
        table[name] = (method, {**table["vae"][1], **json.loads(params)})
        args.methods.append(name)
    tasks = [
        {
            "name": name, "method": table[name], "normal": c, "known": (c + 1) % 10, "gamma": g,
            "seed": s, "data": data, "device": args.device, "threads": args.threads, "overrides": overrides,
        }
        for g in args.gamma for c in args.classes for s in args.seeds for name in args.methods
    ]  # fmt: skip
    start = time.perf_counter()
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            rows = list(pool.map(run_one, tasks, chunksize=1))
    else:
        rows = [run_one(t) for t in tasks]
    wall = time.perf_counter() - start
    print(
        f"{args.dataset} ({args.split} split): {len(tasks)} fits in {wall:.0f} s on {args.workers} workers; overrides {overrides}"
    )
    print(summarise(rows, args.dataset, args.methods))
    fit = {n: np.median([r["fit_s"] for r in rows if r["name"] == n]) for n in args.methods}
    print("\nmedian fit time [s]: " + ", ".join(f"{n} {t:.1f}" for n, t in fit.items()))
    print("warnings seen: " + json.dumps(sorted({w for r in rows for w in r["warnings"]})))
    if args.json:
        args.json.write_text(
            json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}, indent=1)
        )


if __name__ == "__main__":
    main()
