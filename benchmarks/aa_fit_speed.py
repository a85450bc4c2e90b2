"""Wall time of the default AnomalyAwareVAE fit on 100k × 5 features (CPU), against a reference.

The reference is another checkout of hep_aa (e.g. the commit before a change, made with
``git worktree add /tmp/ref <commit>``); both versions fit the same data (a 5-feature
correlated Gaussian background, 200 known anomalies shifted along one direction) with their
own defaults, in fresh interpreters, alternating, and the ratio of the median wall times is
printed.

    python benchmarks/aa_fit_speed.py --reference /tmp/ref [--repeats 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, sys, time, warnings
import numpy as np, torch
torch.set_num_threads(int(sys.argv[1]))
from hep_aa.detector import AnomalyAwareVAE
rng = np.random.default_rng(0)
cov = np.array([[1.0, 0.6, 0.2, 0.0, 0.1], [0.6, 1.0, 0.3, 0.1, 0.0], [0.2, 0.3, 1.0, 0.4, 0.2],
                [0.0, 0.1, 0.4, 1.0, 0.5], [0.1, 0.0, 0.2, 0.5, 1.0]])
bkg = rng.multivariate_normal(np.zeros(5), cov, size=100_000)
anom = rng.multivariate_normal(np.full(5, 1.5), 0.3 * cov, size=200)
x, y = np.vstack([bkg, anom]), np.r_[np.zeros(len(bkg)), np.ones(len(anom))]
start = time.perf_counter()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    det = AnomalyAwareVAE(device="cpu", seed=0).fit(x, y)
elapsed = time.perf_counter() - start
pre, fine = det.history_["pretrain"], det.history_.get("finetune", {})
print(json.dumps({"seconds": elapsed, "pretrain_epochs": len(pre["epoch"]), "finetune_epochs": len(fine.get("epoch", [])),
                  "warnings": sorted({type(w.message).__name__ for w in caught})}))
"""


def run(root: Path, threads: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": str(threads)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(threads)], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reference", type=Path, required=True, help="checkout of the reference hep_aa")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    here = Path(__file__).resolve().parents[1]
    runs: dict[str, list[dict]] = {"reference": [], "this": []}
    for _ in range(args.repeats):
        runs["reference"].append(run(args.reference, args.threads))
        runs["this"].append(run(here, args.threads))
    print(
        f"default AnomalyAwareVAE fit, 100k x 5 features, CPU, {args.threads} thread(s), {args.repeats} repeats"
    )
    print("| version | median s | pretrain epochs | fine-tune epochs | warnings |")
    print("|---|---:|---:|---:|---|")
    med = {}
    for name, rs in runs.items():
        secs = sorted(r["seconds"] for r in rs)
        med[name] = secs[len(secs) // 2]
        print(
            f"| {name} | {med[name]:.1f} | {rs[0]['pretrain_epochs']} | {rs[0]['finetune_epochs']} | {', '.join(rs[0]['warnings']) or '–'} |"
        )
    print(f"ratio this / reference: {med['this'] / med['reference']:.2f}")


if __name__ == "__main__":
    main()
