"""Parton-level reach of the named SMEFT benchmark points, and the p̂_T-biased generation.

For each point of :data:`hep_aa.generate.vh.BENCHMARK_POINTS` the best separation SM vs point
that any method can reach with perfect parton-level information: the AUROC of the exact
likelihood ratio w(c) = |M(c)|²/|M_SM|² (weighted ROC: SM events weight 1, the same events
with weight w(c) as the point), on all q q̄ → Z h events and in the boosted region
p_T(Z) > 150 GeV (generated as its own slice, ``PhaseSpace:pTHatMin = 150``; without ISR
p_T(Z) = p̂_T). Also: σ(point)/σ(SM), and for making an unweighted sample at the point the
accept–reject efficiency ⟨W⟩/max W (all events, the p̂_T > 150 GeV slice, and with the p̂_T
bias (p̂_T/100 GeV)², W = event weight × w(c)); and the partial unweighting that
``generate_vh(unweight_to=...)`` does (accept with min(1, W/W_thr), accepted events keep
max(1, W/W_thr); W_thr = the 99th percentile here): its acceptance and the Kish effective
fraction (Σw)²/(N Σw²) of the accepted events. The last columns: the same points in
q q̄' → W(ℓν) h (the Higgs-basis relations give δg^{Wq}_L = δg^{Zu}_L − δg^{Zd}_L, c_w□, c_ww).

The second table checks the biased, weighted generation against unbiased events: weighted
mean p_T(Z), fractions above 150 and 200 GeV (exact weights must reproduce the unbiased
values within errors) and how many generated events land in the tail.

Run: ``OMP_NUM_THREADS=1 python benchmarks/vh_benchmark_points.py [--n 50000]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.metrics import roc_auc_score

from hep_aa.generate.smeft import morph
from hep_aa.generate.vh import BENCHMARK_POINTS, parton_sample


def weighted_auroc(w_sm: np.ndarray, w_bsm: np.ndarray, score: np.ndarray) -> float:
    """AUROC of ``score`` for the same events as SM (weights ``w_sm``) and point (``w_bsm``)."""
    n = len(score)
    y = np.r_[np.zeros(n), np.ones(n)]
    return float(roc_auc_score(y, np.r_[score, score], sample_weight=np.r_[w_sm, w_bsm]))


def weighted_stats(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted mean and its standard error (Kish effective size)."""
    mean = float(np.average(x, weights=w))
    n_eff = w.sum() ** 2 / (w**2).sum()
    return mean, float(np.sqrt(np.average((x - mean) ** 2, weights=w) / n_eff))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000, help="events per sample")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    t0 = time.perf_counter()
    full = parton_sample(args.n, args.seed)
    boosted = parton_sample(args.n, args.seed + 1, pthat_min=150.0)
    biased = parton_sample(args.n, args.seed + 2, bias_pow=2.0, bias_ref=100.0)
    wh_full = parton_sample(args.n, args.seed + 3, process="wh")
    wh_boosted = parton_sample(args.n, args.seed + 4, process="wh", pthat_min=150.0)
    elapsed = time.perf_counter() - t0
    print(
        f"q qbar -> Z(ll) h and q qbar' -> W(lnu) h, 13 TeV, {args.n} parton-level events per sample "
        f"({elapsed:.0f} s for the five)"
    )
    print()
    header = (
        f"| {'point':11s} | {'couplings':33s} | {'status':11s} | AUROC all | AUROC pT(Z)>150 "
        "| σ/σ_SM | A-R eff. all | A-R eff. >150 | partial eff. >150 | Kish >150 | A-R eff. biased "
        "| Wh AUROC all | Wh AUROC pT(W)>150 | Wh σ/σ_SM |"
    )
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for name, bench in BENCHMARK_POINTS.items():
        w_all = morph(full["smeft"], bench.point)
        w_boost = morph(boosted["smeft"], bench.point)
        auc_all = weighted_auroc(np.ones_like(w_all), w_all, w_all)
        auc_boost = weighted_auroc(np.ones_like(w_boost), w_boost, w_boost)
        big = biased["weight"] * morph(biased["smeft"], bench.point)
        # partial unweighting (what generate_vh --unweight does): accept with min(1, w/thr),
        # accepted events keep max(1, w/thr); thr = the 99th percentile here
        thr = np.quantile(w_boost, 0.99)
        accepted = np.minimum(w_boost, thr) / thr
        kept_w = np.maximum(1.0, w_boost / thr)
        kish = (accepted * kept_w).sum() ** 2 / (accepted * kept_w**2).sum() / accepted.sum()
        w_wh, w_wh_boost = morph(wh_full["smeft"], bench.point), morph(wh_boosted["smeft"], bench.point)
        auc_wh = weighted_auroc(np.ones_like(w_wh), w_wh, w_wh)
        auc_wh_boost = weighted_auroc(np.ones_like(w_wh_boost), w_wh_boost, w_wh_boost)
        couplings = ", ".join(f"{p} = {c:g}" for p, c in bench.point.items())
        status = "stress-test" if bench.stress_test else "allowed"
        print(
            f"| {name:11s} | {couplings:33s} | {status:11s} | {auc_all:9.3f} | {auc_boost:15.3f} "
            f"| {w_all.mean():6.2f} | {w_all.mean() / w_all.max():12.4f} | {w_boost.mean() / w_boost.max():13.4f} "
            f"| {accepted.mean():17.3f} | {kish:9.3f} | {big.mean() / big.max():15.4f} "
            f"| {auc_wh:12.3f} | {auc_wh_boost:18.3f} | {w_wh.mean():9.2f} |"
        )
    print()
    print("Biased (pT_hat/100 GeV)^2 generation, exact weights, vs unbiased (SM):")
    print()
    print(
        "| sample | weighted mean pT(Z) [GeV] | frac. pT(Z) > 150 | frac. pT(Z) > 200 | generated events with pT(Z) > 200 |"
    )
    print("|---|---|---|---|---|")
    for label, sample in (("unbiased", full), ("biased, weighted", biased)):
        pt, w = sample["pt_v"], sample["weight"]
        mean, err = weighted_stats(pt, w)
        f150, e150 = weighted_stats((pt > 150).astype(float), w)
        f200, e200 = weighted_stats((pt > 200).astype(float), w)
        print(
            f"| {label} | {mean:.2f} ± {err:.2f} | {f150:.4f} ± {e150:.4f} | {f200:.4f} ± {e200:.4f} "
            f"| {(pt > 200).mean():.3f} |"
        )


if __name__ == "__main__":
    main()
