"""LHCO feature throughput: hep_aa's vectorised path vs a per-event PseudoJet loop, and peak RSS.

1. Throughput, side by side on the same events: ``iter_lhco`` (chunked HDF5 read) +
   ``jet_features`` (one fastjet call per chunk, vectorised N-subjettiness) against the
   per-event reference of the official LHCO example — build a ``fastjet.PseudoJet`` list per
   event from the NumPy row, cluster anti-kT R = 1.0, take the two leading jets and compute
   τ1..τ3 with exclusive-kT axes per jet, in Python.
2. Peak RSS of reading + features over a whole file of 50k and of 200k events (each in a fresh
   process): must stay flat.

Events: real Pythia 8 events from ``hep_aa.generate.lhco`` (signal and QCD), tiled to the
requested file sizes and written with ``LHCOWriter`` in the real layout.

    python benchmarks/lhco_features.py [--events 2000] [--sizes 50000 200000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from hep_aa.features.jets import jet_features
from hep_aa.io.lhco import MAX_PARTICLES, LHCOWriter, iter_lhco


def reference_features(row: np.ndarray) -> tuple[float, ...] | None:
    """Per-event loop as in the LHCO example notebook, plus τN per jet."""
    import fastjet

    trip = row[: 3 * MAX_PARTICLES].reshape(-1, 3)
    trip = trip[trip[:, 0] > 0]
    pseudojets = []
    for pt, eta, phi in trip:
        pseudojets.append(
            fastjet.PseudoJet(pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta))
        )
    seq = fastjet.ClusterSequence(pseudojets, fastjet.JetDefinition(fastjet.antikt_algorithm, 1.0))
    jets = fastjet.sorted_by_pt(seq.inclusive_jets())
    if len(jets) < 2:
        return None
    out = []
    for jet in jets[:2]:
        consts = jet.constituents()
        taus = []
        for n in (1, 2, 3):
            if len(consts) <= n:
                taus.append(0.0)
                continue
            sub = fastjet.ClusterSequence(list(consts), fastjet.JetDefinition(fastjet.kt_algorithm, 1000.0))
            axes = sub.exclusive_jets(n)
            num = sum(c.pt() * min(np.sqrt(c.squared_distance(a)) for a in axes) for c in consts)
            taus.append(num / sum(c.pt() for c in consts))
        out += [jet.m(), *taus]
    mjj = (jets[0] + jets[1]).m()
    return (mjj, *out)


def make_file(path: Path, source: np.ndarray, n: int) -> None:
    with LHCOWriter(path, n) as writer:
        for lo in range(0, n, 10_000):
            hi = min(lo + 10_000, n)
            idx = np.arange(lo, hi) % len(source)
            writer.write(source[idx, :-1], source[idx, -1])


def rss_child(path: str) -> None:
    start = time.perf_counter()
    n = 0
    for chunk in iter_lhco(path, chunk_size=5_000):
        n += len(jet_features(chunk.particles).kept)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{n} {seconds:.1f} {peak_mb:.0f}")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--rss-child":
        rss_child(sys.argv[2])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--events", type=int, default=2000, help="Pythia events generated (half signal, half QCD)"
    )
    parser.add_argument(
        "--reference-events", type=int, default=300, help="events timed through the slow reference"
    )
    parser.add_argument("--sizes", type=int, nargs="*", default=[50_000, 200_000])
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from hep_aa.generate.lhco import generate_lhco

    tmp = Path(args.workdir or tempfile.mkdtemp(prefix="hep_aa_bench_"))
    tmp.mkdir(parents=True, exist_ok=True)
    sig, qcd = tmp / "sig.h5", tmp / "qcd.h5"
    n_half = args.events // 2
    if not sig.exists():
        generate_lhco(sig, "signal", n_half, seed=101)
    if not qcd.exists():
        generate_lhco(qcd, "qcd", n_half, seed=102)
    import pandas as pd

    source = np.vstack([pd.read_hdf(sig, "df").to_numpy(), pd.read_hdf(qcd, "df").to_numpy()])
    np.random.default_rng(0).shuffle(source)
    bench = tmp / "bench.h5"
    make_file(bench, source, len(source))

    start = time.perf_counter()
    n_fast = 0
    for chunk in iter_lhco(bench, chunk_size=5_000):
        n_fast += len(jet_features(chunk.particles).kept)
    fast = time.perf_counter() - start

    rows = source[: args.reference_events]
    start = time.perf_counter()
    for row in rows:
        reference_features(row)
    slow = time.perf_counter() - start

    fast_rate, slow_rate = n_fast / fast, len(rows) / slow
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, one process"
    )
    print(f"{'path':<34}{'events':>8}{'seconds':>10}{'events/s':>12}")
    print(f"{'hep_aa (read+cluster+features)':<34}{n_fast:>8}{fast:>10.2f}{fast_rate:>12,.0f}")
    print(f"{'per-event PseudoJet reference':<34}{len(rows):>8}{slow:>10.2f}{slow_rate:>12,.0f}")
    print(f"ratio: {fast_rate / slow_rate:.1f}x")

    for size in args.sizes:
        path = tmp / f"rss_{size}.h5"
        if not path.exists():
            make_file(path, source, size)
        out = subprocess.run(
            [sys.executable, __file__, "--rss-child", str(path)], capture_output=True, text=True, check=True
        ).stdout.split()
        n, seconds, peak = out[-3:]
        mb = path.stat().st_size / 1e6
        print(f"file {size:>7} events ({mb:,.0f} MB on disk): {n} events in {seconds} s, peak RSS {peak} MB")


if __name__ == "__main__":
    main()
