"""AA-VAE vs plain VAEs on LHCO-like tables: the seen and an unseen W′ signal.

Takes the train/test split the workflow makes (``hep-aa split`` of the QCD, known-signal and
unseen-signal feature tables; types ``wprime_known`` / ``wprime_unseen``), draws
``--n-known`` labelled known-signal events per seed, fits each method with the workflow
config's hyperparameters (plus ``--variant NAME=METHOD:JSON`` overrides) and prints the AUROC of
each signal against the test QCD, median [lowest, highest] over seeds, and the guard trips.

    python benchmarks/lhco_anomaly_awareness.py train.parquet test.parquet --seeds 0 1 2 \\
        --variant 'aa-m6=aa-vae:{"margin": 6, "lambda_max": 1.5}'
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("train", type=Path)
    parser.add_argument("test", type=Path)
    parser.add_argument(
        "--config", type=Path, default=Path(__file__).resolve().parents[1] / "workflows" / "config.yaml"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n-known", type=int, default=200)
    parser.add_argument("--methods", nargs="*", default=["vae", "vae-matched", "aa-vae", "aa-vae-synth"])
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=METHOD:JSON")
    args = parser.parse_args()

    import torch

    from hep_aa.config import load_config
    from hep_aa.detector import make_detector
    from hep_aa.io.artifacts import read_table
    from hep_aa.metrics.roc import auc_from_scores
    from hep_aa.training import TrainingDivergenceWarning

    torch.set_num_threads(1)
    cfg = load_config(args.config)
    train, test = read_table(args.train), read_table(args.test)
    runs = {m: (m, {}) for m in args.methods}
    for spec in args.variant:
        name, rest = spec.split("=", 1)
        method, params = rest.split(":", 1)
        runs[name] = (method, json.loads(params))
    bkg = train.features[train.labels == 0]
    pool = train.features[train.types == "wprime_known"]
    kinds = ("wprime_known", "wprime_unseen")
    res: dict[str, dict[str, list[float]]] = {n: {k: [] for k in kinds} for n in runs}
    trips = dict.fromkeys(runs, 0)
    for seed in args.seeds:
        known = pool[np.random.default_rng(seed).choice(len(pool), args.n_known, replace=False)]
        x, y = np.vstack([bkg, known]), np.r_[np.zeros(len(bkg)), np.ones(len(known))]
        for name, (method, params) in runs.items():
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", TrainingDivergenceWarning)
                det = make_detector(method, cfg, seed=seed, device="cpu", **params).fit(x, y)
            for w in caught:  # shown, not silenced
                print(f"{name} seed {seed}: {w.category.__name__}: {w.message}")
            trips[name] += len(caught)
            s = det.decision_function(test.features)
            for k in kinds:
                res[name][k].append(auc_from_scores(s[test.labels == 0], s[test.types == k]))
    n_bkg = int((train.labels == 0).sum())
    print(f"{args.train}: {n_bkg} QCD training events, {args.n_known} known W′; seeds {args.seeds}")
    print("| method | W′ known (seen) | W′ unseen | guard trips |")
    print("|---|---:|---:|---:|")
    for name in runs:
        cells = [f"{np.median(v):.3f} [{min(v):.3f}, {max(v):.3f}]" for v in res[name].values()]
        print(f"| {name} | {cells[0]} | {cells[1]} | {trips[name]} |")


if __name__ == "__main__":
    main()
