"""Generated LHCO-like events vs the real LHCO2020 R&D sample: KS tests and a figure.

Compares, for QCD (label 0) and the W′ signal (label 1) separately, the per-event hadron
multiplicity, hadron pT, forward (|η| > 2.5) ΣpT and every jet feature (leading-jet pT,
mjj, both jet masses, τ1..τ3, τ21 and τ32 of both jets, Δη) of generated files with those of
the real file, with two-sample Kolmogorov–Smirnov p-values; for the signal also the mjj
16–84 % width and the fraction of events with both jets in the X and Y mass windows. Writes a
figure (mplhep, one panel per quantity with a generated/real ratio panel) and a JSON summary.

    python benchmarks/lhco_compare.py --qcd /tmp/qcd.h5 --signal /tmp/sig.h5 \\
        [--real ../shared/data/lhco/events_anomalydetection_tiny.h5] [--out lhco_compare.png]

Generate the inputs with ``hep-aa generate lhco --process qcd|signal ...`` (default settings
= the R&D sample's: no MPI, CMS-like detector).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import awkward as ak
import numpy as np
from scipy import stats

from hep_aa.features.jets import jet_features
from hep_aa.io.lhco import iter_lhco

REAL = (
    Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "data"
    / "lhco"
    / "events_anomalydetection_tiny.h5"
)

#: quantity -> (label, histogram edges)
QUANTITIES: dict[str, tuple[str, np.ndarray]] = {
    "n_hadrons": ("hadrons per event", np.linspace(0, 500, 26)),
    "hadron_pt": ("hadron $p_T$ [GeV]", np.logspace(-1, 3, 25)),
    "forward_sumpt": (r"$\Sigma p_T$, $|\eta|>2.5$ [GeV]", np.linspace(0, 150, 26)),
    "pt_j1": ("leading-jet $p_T$ [GeV]", np.linspace(1200, 2400, 25)),
    "mjj": ("$m_{jj}$ [GeV]", np.linspace(2000, 6000, 26)),
    "m_j1": ("$m_{j1}$ [GeV]", np.linspace(0, 1000, 26)),
    "m_j2": ("$m_{j2}$ [GeV]", np.linspace(0, 1000, 26)),
    "tau21_j1": (r"$\tau_{21}$, j1", np.linspace(0, 1.1, 23)),
    "tau21_j2": (r"$\tau_{21}$, j2", np.linspace(0, 1.1, 23)),
    "tau32_j1": (r"$\tau_{32}$, j1", np.linspace(0, 1.1, 23)),
    "tau32_j2": (r"$\tau_{32}$, j2", np.linspace(0, 1.1, 23)),
    "tau1_j1": (r"$\tau_1$, j1", np.linspace(0, 0.6, 25)),
    "tau1_j2": (r"$\tau_1$, j2", np.linspace(0, 0.6, 25)),
    "delta_eta_jj": (r"$|\Delta\eta_{jj}|$", np.linspace(0, 2.6, 27)),
}
#: the issue's acceptance: KS p > 0.01 for these (QCD)
REQUIRED_QCD = ("n_hadrons", "pt_j1", "mjj", "m_j1", "m_j2", "tau21_j1", "tau21_j2")


def load(paths: list[Path], label: int | None) -> dict[str, np.ndarray]:
    """Per-event quantities of the events with ``label`` (all when ``None``)."""
    out: dict[str, list[np.ndarray]] = {k: [] for k in QUANTITIES}
    for path in paths:
        for chunk in iter_lhco(path):
            parts = chunk.particles
            if label is not None and chunk.labels is not None:
                parts = parts[chunk.labels == label]
            if len(parts) == 0:
                continue
            out["n_hadrons"].append(ak.to_numpy(ak.num(parts)))
            out["hadron_pt"].append(ak.to_numpy(ak.flatten(parts.pt)))
            fwd = np.abs(parts.eta) > 2.5
            out["forward_sumpt"].append(ak.to_numpy(ak.sum(parts.pt[fwd], axis=1)))
            cols = jet_features(parts).columns
            for key in QUANTITIES:
                if key in cols:
                    out[key].append(cols[key])
    return {k: np.concatenate(v) for k, v in out.items() if v}


def ks(a: np.ndarray, b: np.ndarray) -> float:
    return float(stats.ks_2samp(a, b).pvalue)


def width(x: np.ndarray) -> float:
    lo, hi = np.percentile(x, [16, 84])
    return float(hi - lo)


def in_windows(c: dict[str, np.ndarray], m_x: float, m_y: float) -> float:
    heavy, light = np.maximum(c["m_j1"], c["m_j2"]), np.minimum(c["m_j1"], c["m_j2"])
    both = (np.abs(heavy - m_x) < 100.0) & (np.abs(light - m_y) < 50.0)
    return float(both.mean())


def figure(real: dict, gen: dict, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep as hep

    keys = list(QUANTITIES)
    ncol = 5
    nrow = -(-len(keys) // ncol)
    fig = plt.figure(figsize=(4.2 * ncol, 4.6 * nrow))
    outer = fig.add_gridspec(nrow, ncol, hspace=0.45, wspace=0.35)
    for i, key in enumerate(keys):
        label, edges = QUANTITIES[key]
        sub = outer[i // ncol, i % ncol].subgridspec(2, 1, height_ratios=[3, 1], hspace=0.05)
        ax = fig.add_subplot(sub[0])
        rax = fig.add_subplot(sub[1], sharex=ax)
        hr, _ = np.histogram(np.clip(real[key], edges[0], edges[-1]), edges)
        hg, _ = np.histogram(np.clip(gen[key], edges[0], edges[-1]), edges)
        nr, ng = max(hr.sum(), 1), max(hg.sum(), 1)
        hep.histplot(hg / ng, edges, ax=ax, label=f"generated ({len(gen[key])})", histtype="step")
        hep.histplot(
            hr / nr,
            edges,
            yerr=np.sqrt(hr) / nr,
            ax=ax,
            label=f"real ({len(real[key])})",
            histtype="errorbar",
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = (hg / ng) / (hr / nr)
            err = ratio * np.sqrt(1.0 / np.where(hg > 0, hg, np.inf) + 1.0 / np.where(hr > 0, hr, np.inf))
        centers = 0.5 * (edges[1:] + edges[:-1])
        ok = hr > 0
        rax.errorbar(centers[ok], ratio[ok], yerr=err[ok], fmt="o", ms=3, color="k")
        rax.axhline(1.0, color="grey", lw=1)
        rax.set_ylim(0.0, 2.0)
        rax.set_ylabel("gen/real", fontsize=9)
        rax.set_xlabel(label)
        if key == "hadron_pt":
            ax.set_xscale("log")
            rax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xlim(edges[0], edges[-1])
        ax.tick_params(labelbottom=False)
        ax.set_ylabel("fraction")
        ax.set_title(f"KS p = {ks(real[key], gen[key]):.2g}", fontsize=10)
        ax.legend(fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=14)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--real", type=Path, default=REAL)
    parser.add_argument("--qcd", type=Path, nargs="+", required=True)
    parser.add_argument("--signal", type=Path, nargs="*", default=[])
    parser.add_argument("--m-x", type=float, default=500.0)
    parser.add_argument("--m-y", type=float, default=100.0)
    parser.add_argument(
        "--out", type=Path, default=Path("lhco_compare.png"), help="figure (QCD; _signal added)"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    summary: dict[str, dict] = {}
    for name, paths, label in (("qcd", args.qcd, 0), ("signal", args.signal, 1)):
        if not paths:
            continue
        real, gen = load([args.real], label), load(paths, None)
        rows = {}
        print(f"\n{name}: {len(gen['mjj'])} generated vs {len(real['mjj'])} real events")
        print(f"{'quantity':16s} {'gen median':>11s} {'real median':>11s} {'KS p':>9s}")
        for key in QUANTITIES:
            p = ks(real[key], gen[key])
            rows[key] = {
                "gen_median": float(np.median(gen[key])),
                "real_median": float(np.median(real[key])),
                "ks_p": p,
            }
            flag = "  < 0.01" if p < 0.01 else ""
            print(
                f"{key:16s} {rows[key]['gen_median']:11.4g} {rows[key]['real_median']:11.4g} {p:9.2g}{flag}"
            )
        summary[name] = {"quantities": rows, "n_generated": len(gen["mjj"]), "n_real": len(real["mjj"])}
        if name == "qcd":
            bad = [k for k in REQUIRED_QCD if rows[k]["ks_p"] <= 0.01]
            print(f"required QCD quantities with KS p <= 0.01: {bad or 'none'}")
        else:
            wg, wr = width(gen["mjj"]), width(real["mjj"])
            fg, fr = in_windows(gen, args.m_x, args.m_y), in_windows(real, args.m_x, args.m_y)
            light_g = float((np.maximum(gen["m_j1"], gen["m_j2"]) < 150).mean())
            light_r = float((np.maximum(real["m_j1"], real["m_j2"]) < 150).mean())
            print(f"mjj 16-84% width: generated {wg:.0f} GeV, real {wr:.0f} GeV (ratio {wg / wr:.2f})")
            print(
                f"both jets in the X (|m - {args.m_x:.0f}| < 100) and Y (|m - {args.m_y:.0f}| < 50) windows: "
                f"generated {100 * fg:.1f} %, real {100 * fr:.1f} % (difference {100 * (fg - fr):+.1f} points)"
            )
            print(f"both jets < 150 GeV: generated {100 * light_g:.1f} %, real {100 * light_r:.1f} %")
            summary[name].update(
                mjj_width_gen=wg,
                mjj_width_real=wr,
                in_windows_gen=fg,
                in_windows_real=fr,
                both_light_gen=light_g,
                both_light_real=light_r,
            )
        out = args.out if name == "qcd" else args.out.with_name(args.out.stem + "_signal" + args.out.suffix)
        figure(real, gen, f"LHCO R&D {name}: generated (hep-aa) vs real", out)
        print(f"figure: {out}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
