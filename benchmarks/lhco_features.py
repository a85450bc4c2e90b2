"""LHCO feature throughput, side by side: hep_aa vs its previous implementation vs bare
anti-kT clustering, per core; ``hep-aa features lhco --workers 1/2`` end to end; peak memory.

1. **One core, one process, same events** (a real or generated LHCO file, read with
   ``iter_lhco``): per chunk, in turn and repeated, (a) fastjet's multi-event anti-kT R = 1.0
   clustering alone, the floor any implementation pays; (b) ``iter_lhco`` + ``jet_features``
   of this checkout; (c) the same with the ``jet_features`` of an earlier revision
   (``--reference-rev``, loaded from ``git show`` by path). Both CPU time (``process_time``:
   robust on a shared machine) and wall time; the features of (b) and (c) are compared.
2. **End to end**: ``hep-aa features lhco FILE --set official --workers N`` in a fresh
   process for N = 1, 2 (and ``--big`` on a large file with N = 2), with the whole process
   tree (forkserver and workers included) sampled every 0.1 s for the sum of RSS and of PSS
   (PSS shares the libraries' pages between processes: the memory the run really takes).
   Speed-up = wall(N = 1) / wall(N = 2).

The input is the real 1,000-event R&D file tiled to ``--events`` with h5py (same dataset
layout: (7, 2101) chunks, blosc lz level 5 + shuffle) unless ``--file`` gives one.

    python benchmarks/lhco_features.py [--events 20000] [--file F.h5] [--big BIG.h5]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "data" / "lhco" / "events_anomalydetection_tiny.h5"


def tile(source: Path, n: int, out: Path) -> Path:
    """``n`` events of ``source`` repeated, in the R&D file's own HDF5 layout."""
    import h5py
    import hdf5plugin

    with h5py.File(source, "r") as f:
        src = f["df/block0_values"][()]
    tmp = out.with_suffix(".part")
    with h5py.File(tmp, "w") as f:
        d = f.create_group("df").create_dataset(
            "block0_values",
            shape=(n, src.shape[1]),
            dtype="f8",
            chunks=(7, src.shape[1]),
            **hdf5plugin.Blosc(cname="blosclz", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE),
        )
        for lo in range(0, n, 7000):
            hi = min(lo + 7000, n)
            d[lo:hi] = src[np.arange(lo, hi) % len(src)]
    tmp.replace(out)
    return out


def load_revision(rev: str, workdir: Path) -> object:
    """``hep_aa.features.jets`` as it was at git revision ``rev``, imported by path."""
    text = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{rev}:hep_aa/features/jets.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = workdir / f"jets_{rev}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(f"jets_{rev}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def single_core(path: Path, reference: object, chunk: int, repeats: int) -> None:
    import fastjet

    from hep_aa.features import jets
    from hep_aa.io.lhco import iter_lhco

    chunks = [c.particles for c in iter_lhco(path, chunk_size=chunk)]
    n = sum(len(c) for c in chunks)
    # warm-up: compiled kernels, imports, first fastjet call
    jets.jet_features(chunks[0][:10])
    reference.jet_features(chunks[0][:10])
    flat = [jets._jagged_pxpypze(*jets._flat_momenta(c)) for c in chunks]
    antikt = fastjet.JetDefinition(fastjet.antikt_algorithm, 1.0)

    def read() -> None:
        for _ in iter_lhco(path, chunk_size=chunk):
            pass

    def cluster() -> None:
        for c in flat:
            fastjet.ClusterSequence(c, antikt)

    def new() -> None:
        for c in chunks:
            jets.jet_features(c)

    def old() -> None:
        for c in chunks:
            reference.jet_features(c)

    best: dict[str, tuple[float, float]] = {}
    for _ in range(repeats):  # interleaved, best of `repeats` of each
        for name, f in (("read", read), ("cluster", cluster), ("new", new), ("old", old)):
            c0, w0 = time.process_time(), time.perf_counter()
            f()
            c1, w1 = time.process_time(), time.perf_counter()
            prev = best.get(name, (np.inf, np.inf))
            best[name] = (min(prev[0], c1 - c0), min(prev[1], w1 - w0))
    a = [jets.jet_features(c) for c in chunks[:2]]
    b = [reference.jet_features(c) for c in chunks[:2]]
    worst = max(
        float(np.max(np.abs(x.columns[k] - y.columns[k]) / np.maximum(np.abs(y.columns[k]), 1e-300)))
        for x, y in zip(a, b, strict=True)
        for k in y.columns
        if not k.startswith("tau")
    )
    worst_tau = max(
        float(np.max(np.abs(x.columns[k] - y.columns[k])))
        for x, y in zip(a, b, strict=True)
        for k in y.columns
        if k.startswith("tau")
    )
    r = best["read"]
    rows = [
        ("anti-kT clustering alone (fastjet)", best["cluster"]),
        ("read + hep_aa jet_features", (r[0] + best["new"][0], r[1] + best["new"][1])),
        ("read + previous jet_features", (r[0] + best["old"][0], r[1] + best["old"][1])),
        ("read alone (iter_lhco)", r),
    ]
    print(f"\n1. one core, {n} events of {path.name}, chunks of {chunk}, best of {repeats}")
    print(f"{'path':<38}{'CPU s':>8}{'ev/s CPU':>10}{'wall s':>8}{'ev/s wall':>11}{'÷ clustering':>14}")
    for name, (cpu, wall) in rows:
        print(
            f"{name:<38}{cpu:>8.2f}{n / cpu:>10,.0f}{wall:>8.2f}{n / wall:>11,.0f}{cpu / best['cluster'][0]:>13.2f}×"
        )
    speed = (r[0] + best["old"][0]) / (r[0] + best["new"][0])
    print(
        f"new vs previous: {speed:.2f}× (CPU time); kinematics max rel diff {worst:.1e}, τ max abs diff {worst_tau:.1e}"
    )


def _tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def _memory(pids: list[int]) -> tuple[int, int]:
    rss = pss = 0
    for p in pids:
        try:
            with Path(f"/proc/{p}/smaps_rollup").open() as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            continue
    return rss, pss


def _cpu(pids: list[int], seen: dict[int, float]) -> None:
    """Record user + system CPU seconds of each process (the last sample of each counts)."""
    tick = os.sysconf("SC_CLK_TCK")
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        seen[p] = (int(fields[11]) + int(fields[12])) / tick


def end_to_end(
    path: Path, workers: int, chunk: int | None, workdir: Path, extra: tuple[str, ...] = ()
) -> tuple[float, float, float, float, int]:
    """Wall seconds, CPU seconds of the whole process tree, peak Σ RSS and Σ PSS (MB) of the
    tree, events written."""
    out = workdir / f"e2e_{path.stem}_{workers}.parquet"
    cli = "import sys; from hep_aa.cli.main import main; sys.exit(main())"
    cmd = [sys.executable, "-c", cli, "features", "lhco", str(path), "--set", "official", *extra]
    cmd += ["--workers", str(workers), "-o", str(out)]
    if chunk:
        cmd += ["--chunk-size", str(chunk)]
    peak = [0, 0]
    cpu: dict[int, float] = {}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            pids = _tree(proc.pid)
            rss, pss = _memory(pids)
            _cpu(pids, cpu)
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)
            time.sleep(0.1)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    stdout, _ = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    thread.join()
    if proc.returncode:
        raise SystemExit(f"{cmd} failed with {proc.returncode}")
    n = int(stdout.split(": ", 1)[1].split()[0])
    busiest = max((v for p, v in cpu.items() if p != proc.pid), default=0.0)
    print(
        f"    [{workers} worker(s)] CPU s: whole tree {sum(cpu.values()):.1f}, main process "
        f"{cpu.get(proc.pid, 0.0):.1f}, busiest other process {busiest:.1f} -> wall on {max(workers, 1)} idle "
        f"core(s) ≈ {cpu.get(proc.pid, 0.0) + busiest:.1f} s"
    )
    return wall, sum(cpu.values()), peak[0] / 1024, peak[1] / 1024, n


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000, help="events of the tiled real file")
    parser.add_argument("--file", type=Path, help="an LHCO file to use instead of the tiled real one")
    parser.add_argument("--reference-rev", default="2d2318c", help="git revision of the previous jets.py")
    parser.add_argument("--chunk-size", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--big", type=Path, help="a large LHCO file run end to end with --workers 2")
    parser.add_argument(
        "--big-range", type=int, nargs=2, metavar=("START", "STOP"), help="event range of --big"
    )
    parser.add_argument("--skip-single", action="store_true", help="only the end-to-end runs")
    parser.add_argument("--skip-e2e", action="store_true", help="only the single-core comparison")
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="hep_aa_lhco_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    path = args.file or work / f"tiled_{args.events}.h5"
    if not path.exists():
        tile(REAL, args.events, path)
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
        f"load average {' '.join(load)} at start"
    )
    if not args.skip_single:
        single_core(path, load_revision(args.reference_rev, work), args.chunk_size, args.repeats)
    if not args.skip_e2e:
        print(f"\n2. hep-aa features lhco {path.name} --set official (fresh process, whole tree sampled)")
        print(
            f"{'workers':>7}{'events':>9}{'wall s':>8}{'ev/s':>7}{'CPU s':>8}"
            f"{'ev/CPU-s':>9}{'peak ΣRSS MB':>13}{'peak ΣPSS MB':>13}"
        )
        walls, cpus = {}, {}
        for workers in (1, 2):
            wall, cpu, rss, pss, n = end_to_end(path, workers, None, work)
            walls[workers], cpus[workers] = wall, cpu
            print(
                f"{workers:>7}{n:>9}{wall:>8.1f}{n / wall:>7,.0f}{cpu:>8.1f}{n / cpu:>9,.0f}{rss:>13,.0f}{pss:>13,.0f}"
            )
        print(
            f"speed-up on 2 workers: {walls[1] / walls[2]:.2f}× wall; CPU time of the 2-worker tree "
            f"= {cpus[2] / cpus[1]:.2f}× the single process's"
        )
    if args.big:
        extra = (
            ("--start", str(args.big_range[0]), "--stop", str(args.big_range[1])) if args.big_range else ()
        )
        wall, cpu, rss, pss, n = end_to_end(args.big, 2, None, work, extra)
        print(
            f"\n3. {args.big.name} {' '.join(extra)}: {n} events, 2 workers: {wall:.0f} s wall "
            f"({n / wall:,.0f} events/s), {cpu:.0f} CPU s ({n / cpu:,.0f} events per CPU s), "
            f"peak ΣRSS {rss:,.0f} MB, ΣPSS {pss:,.0f} MB"
        )
    print(f"load average at the end: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")


if __name__ == "__main__":
    main()
