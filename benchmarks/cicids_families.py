"""Anomaly Awareness per attack family on CICIDS2017 (original or improved CSVs).

For every attack family in the files (DoS, DDoS, PortScan, Bot, Web Attack, Brute Force,
Infiltration, Heartbleed, ...): the family is the *known* anomaly (``--n-known`` labelled
flows in training), every other family is *unseen*. The AA-VAE is compared with the
epoch-matched plain VAE (same pretraining, same epochs on benign flows only) and the plain VAE,
same data and seeds; the table gives the unseen-family AUROC (benign test flows vs all other
families) per known family, median over seeds. Reads the CSVs through ``hep-aa features
cicids`` (the workflow's code path, layout detected from the header; "attempted" flows of the
improved release kept as benign), subsamples benign flows for speed.

    python benchmarks/cicids_families.py /data/CICIDS2017/ --seeds 0 1 2 --n-benign 50000

No CICIDS2017 files are available offline on the development machines, so BENCHMARKS.md has
no numbers from this script yet.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

METHODS = ("vae", "vae-matched", "aa-vae")


def fit_one(task: dict[str, Any]) -> dict[str, Any]:
    import torch

    from hep_aa.detector import make_detector
    from hep_aa.metrics.roc import auc_from_scores

    torch.set_num_threads(1)
    x_tr, t_tr, x_te, t_te = task["data"]
    family, seed, method = task["family"], task["seed"], task["method"]
    rng = np.random.default_rng(seed)
    pool = np.flatnonzero(t_tr == family)
    known = pool[rng.choice(len(pool), min(task["n_known"], len(pool)), replace=False)]
    benign = np.flatnonzero(t_tr == "background")
    x = np.vstack([x_tr[benign], x_tr[known]])
    y = np.r_[np.zeros(len(benign)), np.ones(len(known))]
    det = make_detector(method, seed=seed, device=task["device"], **task["hints"])
    start = time.perf_counter()
    det.fit(x, y)
    scores = det.decision_function(x_te)
    s_bkg = scores[t_te == "background"]
    unseen = (t_te != "background") & (t_te != family)
    per_family = {
        f: auc_from_scores(s_bkg, scores[t_te == f]) for f in sorted(set(t_te)) if f != "background"
    }
    return {
        "family": family,
        "seed": seed,
        "method": method,
        "auc_unseen": auc_from_scores(s_bkg, scores[unseen]) if unseen.any() else float("nan"),
        "per_family": per_family,
        "fit_s": time.perf_counter() - start,
        "guard": bool(det.history_.get("finetune", {}).get("stopped_early", [0.0])[0]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("sources", nargs="+", type=Path, help="CICIDS2017 CSV files or folders")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n-benign", type=int, default=50_000, help="benign flows kept (subsampled)")
    parser.add_argument("--n-known", type=int, default=200)
    parser.add_argument(
        "--min-family", type=int, default=50, help="families with fewer flows are unseen only"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, help="stage-1 epoch budget (default: the detector's)")
    args = parser.parse_args()

    from hep_aa.cli import main as cli
    from hep_aa.io.artifacts import read_table

    with tempfile.TemporaryDirectory() as tmp:
        table_path = Path(tmp) / "cicids.parquet"
        if cli(["features", "cicids", *map(str, args.sources), "-o", str(table_path)]) != 0:
            raise SystemExit("reading the CICIDS2017 files failed (see above)")
        table = read_table(table_path)
    hints = dict(table.metadata.get("model_hints", {}))
    if args.epochs:
        hints["epochs"] = args.epochs
    rng = np.random.default_rng(0)
    types = np.asarray(table.types).astype(str)
    keep = np.flatnonzero(types != "background")
    benign = np.flatnonzero(types == "background")
    keep = np.sort(np.r_[keep, rng.choice(benign, min(args.n_benign, len(benign)), replace=False)])
    x, t = table.features[keep], types[keep]
    train = np.zeros(len(t), dtype=bool)
    for f in set(t):  # stratified 50/50 split per type
        idx = np.flatnonzero(t == f)
        train[rng.permutation(idx)[: len(idx) // 2]] = True
    data = (x[train], t[train], x[~train], t[~train])
    families = sorted(f for f in set(t) if f != "background" and (t[train] == f).sum() >= args.min_family)
    tasks = [
        {"data": data, "family": f, "seed": s, "method": m, "n_known": args.n_known, "hints": hints, "device": args.device}
        for f in families for s in args.seeds for m in METHODS
    ]  # fmt: skip
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(fit_one, tasks))
    print(
        f"CICIDS2017 ({table.metadata.get('layout')}): {len(x)} flows kept, families {sorted(str(f) for f in set(t) - {'background'})}"
    )
    print("\nUnseen-family AUROC (benign vs every other family), median over seeds\n")
    print("| known family | " + " | ".join(METHODS) + " | AA − matched | guard trips (AA) |")
    print("|---|" + "---:|" * (len(METHODS) + 2))
    wins = 0
    for f in families:
        med = {
            m: float(np.median([r["auc_unseen"] for r in rows if r["family"] == f and r["method"] == m]))
            for m in METHODS
        }
        trips = sum(r["guard"] for r in rows if r["family"] == f and r["method"] == "aa-vae")
        wins += med["aa-vae"] > med["vae-matched"]
        cells = " | ".join(f"{med[m]:.3f}" for m in METHODS)
        print(f"| {f} | {cells} | {med['aa-vae'] - med['vae-matched']:+.3f} | {trips} |")
    print(f"\nAA above the epoch-matched control for {wins} of {len(families)} known families.")


if __name__ == "__main__":
    main()
