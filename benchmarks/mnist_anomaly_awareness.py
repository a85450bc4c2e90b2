"""Anomaly Awareness on real MNIST: normal = MNIST digits, known anomaly = Fashion-MNIST.

The paper's protocol (arXiv:2504.11520) on the real MNIST test set (10,000 images, split
50/50 into train and evaluation, stratified) with real Fashion-MNIST images as the known
anomalies (200 used in training); unseen anomalies are the five synthetic kinds of
``hep_aa.features.images`` built from a pool of MNIST digits held out of the table (never
trained on). The same code path as the workflow: ``hep-aa features mnist`` → ``hep-aa split``
→ detectors with the table's model hints (784-512-256-20 MLP VAE, Bernoulli decoder, no
scaling) → metrics per type over seeds. ``vae-matched`` is the epoch-matched control of the
AA fine-tune. Divergence warnings are not silenced: they are counted and printed.

    python benchmarks/mnist_anomaly_awareness.py --data ../shared/data [--seeds 0 1 2] [--workers 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from hep_aa.cli import main as cli
from hep_aa.detector import make_detector
from hep_aa.io.artifacts import read_table
from hep_aa.metrics import aggregate_seeds, type_metrics
from hep_aa.training import TrainingDivergenceWarning

METHODS = ["vae", "vae-matched", "aa-vae", "aa-vae-synth", "synth-classifier"]


def fit_one(task: dict[str, Any]) -> tuple[str, int, dict, float, int]:
    """Fit one method and seed; type metrics on the test half, fit time, guard warnings."""
    import torch

    torch.set_num_threads(1)
    x, y, test, hints, method, seed = (task[k] for k in ("x", "y", "test", "hints", "method", "seed"))
    det = make_detector(method, seed=seed, finetune_epochs=30, device=task["device"], **hints)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TrainingDivergenceWarning)
        det.fit(x, y)
    elapsed = time.perf_counter() - start
    trips = sum(issubclass(w.category, TrainingDivergenceWarning) for w in caught)
    for w in caught:  # shown, not silenced
        print(f"{method} seed {seed}: {w.category.__name__}: {w.message}")
    scores = det.decision_function(test.features)
    metrics = type_metrics(
        scores, test.labels, test.types, seen_types=["fashion-mnist"], n_bootstrap=50, seed=seed
    )
    return method, seed, metrics, elapsed, trips


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--n-known", type=int, default=200)
    args = parser.parse_args()
    mnist, fashion = args.data / "mnist", args.data / "fashion-mnist"
    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / "mnist.parquet"
        code = cli(
            [
                "features", "mnist",
                "--images", str(mnist / "t10k-images-idx3-ubyte.gz"),
                "--labels", str(mnist / "t10k-labels-idx1-ubyte.gz"),
                "--known-images", str(fashion / "t10k-images-idx3-ubyte.gz"),
                "--n-per-kind", "2000",
                "-o", str(table),
            ]
        )  # fmt: skip
        assert code == 0
        train_p, test_p = Path(tmp) / "train.parquet", Path(tmp) / "test.parquet"
        assert cli(["split", str(table), "--seed", "0", "--train", str(train_p), "--test", str(test_p)]) == 0
        train, test = read_table(train_p), read_table(test_p)
    hints = dict(train.metadata["model_hints"])
    background = train.features[train.labels == 0]
    known_pool = train.features[(train.labels == 1) & (train.types == "fashion-mnist")]
    results: dict[str, dict[int, dict]] = {m: {} for m in METHODS}
    timing: dict[str, list[float]] = {m: [] for m in METHODS}
    trips: dict[str, int] = dict.fromkeys(METHODS, 0)
    tasks = []
    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        known = known_pool[rng.choice(len(known_pool), args.n_known, replace=False)]
        x = np.vstack([background, known])
        y = np.r_[np.zeros(len(background)), np.ones(len(known))]
        for method in METHODS:
            tasks.append(
                {
                    "x": x,
                    "y": y,
                    "test": test,
                    "hints": hints,
                    "method": method,
                    "seed": seed,
                    "device": args.device,
                }
            )
    with ProcessPoolExecutor(args.workers) as pool:
        for method, seed, metrics, elapsed, n_trips in pool.map(fit_one, tasks):
            results[method][seed] = metrics
            timing[method].append(elapsed)
            trips[method] += n_trips
    kinds = sorted({k for m in results.values() for r in m.values() for k in r})
    print(
        f"MNIST t10k split 50/50: {len(background)} normal training images, {args.n_known} Fashion-MNIST known anomalies,"
    )
    print(
        f"test: {int((test.labels == 0).sum())} normal, anomalies per type ~{int((test.labels == 1).sum() / len(kinds))}; seeds {args.seeds}"
    )
    print("AUC median [68% band] over seeds")
    print(
        "| method | "
        + " | ".join(f"{k} ({'seen' if k == 'fashion-mnist' else 'unseen'})" for k in kinds)
        + " | fit s | guard trips |"
    )
    print("|---|" + "---:|" * (len(kinds) + 2))
    for method in METHODS:
        summ = aggregate_seeds(results[method])
        cells = []
        for k in kinds:
            a = summ[k]["auc"]
            cells.append(f"{a['median']:.3f} [{a['band68'][0]:.3f}, {a['band68'][1]:.3f}]")
        print(f"| {method} | " + " | ".join(cells) + f" | {np.mean(timing[method]):.0f} | {trips[method]} |")


if __name__ == "__main__":
    main()
