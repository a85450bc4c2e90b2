"""Events/s of the coffea AnomalyScoreProcessor, side by side with the same scoring without coffea.

A NanoAOD-like Z h file is generated with Pythia (``--generate`` events) and tiled to
``--events`` entries; a plain VAE is trained on its features. Then, in one run:

- coffea ``Runner`` + ``IterativeExecutor`` (one core) and ``FuturesExecutor`` (2 workers),
- coffea dask mode (``NanoEventsFactory(..., mode="dask")`` + ``dask.compute``), with the
  synchronous scheduler (one core) and a ``distributed`` LocalCluster (2 worker processes),
- the reference: ``hep_aa.io.root.iter_root_events`` + ``vh_features`` + the same scorer,
  no coffea (what ``hep-aa features vh`` + ``hep-aa score`` do).

    python benchmarks/processor.py [--generate 500] [--events 50000]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import uproot

from hep_aa.cli import main as cli
from hep_aa.features.higgs import vh_features
from hep_aa.generate.vh import generate_vh
from hep_aa.io.root import iter_root_events
from hep_aa.processors import AnomalyScoreProcessor, LazyScorer


def dask_events(path: Path, chunksize: int):  # type: ignore[no-untyped-def]
    from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

    with uproot.open(path) as f:
        n = f["Events"].num_entries
    steps = [[a, min(a + chunksize, n)] for a in range(0, n, chunksize)]
    return NanoEventsFactory.from_root(
        {str(path): {"object_path": "Events", "steps": steps}},
        schemaclass=NanoAODSchema,
        mode="dask",
        metadata={"dataset": "ZH"},
    ).events()


def tile(src: Path, dst: Path, n: int) -> None:
    with uproot.open(src) as f:
        arrays = f["Events"].arrays()
    reps = int(np.ceil(n / len(arrays)))
    import awkward as ak

    big = ak.concatenate([arrays] * reps)[:n]
    groups = {}
    for name in ("Electron", "Muon", "Jet"):
        fields = [f for f in big.fields if f.startswith(name + "_")]
        groups[name] = ak.zip({f[len(name) + 1 :]: big[f] for f in fields})
    flat = {
        f: ak.to_numpy(big[f]) for f in big.fields if not f.startswith(("Electron_", "Muon_", "Jet_", "n"))
    }
    data = {**flat, **groups}
    with uproot.recreate(dst) as out:
        tree = out.mktree(
            "Events", {k: (v.type if isinstance(v, ak.Array) else v.dtype) for k, v in data.items()}
        )
        tree.extend(data)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--generate", type=int, default=500)
    parser.add_argument("--events", type=int, default=50_000)
    args = parser.parse_args()
    # hep_aa's generated NanoAOD-like files have no cross-reference branches (Jet_muonIdx1, ...),
    # which coffea warns about once per chunk; nothing here uses them, and the timing is what is
    # measured. Any other warning still shows.
    warnings.filterwarnings("ignore", message="Missing cross-reference index")
    from coffea import processor
    from coffea.nanoevents import NanoAODSchema

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        generate_vh(d / "zh.root", args.generate, seed=5)
        tile(d / "zh.root", d / "big.root", args.events)
        assert cli(["features", "vh", str(d / "zh.root"), "-o", str(d / "zh.parquet")]) == 0
        (d / "c.yaml").write_text("version: 1\ntraining: {epochs: 5, device: cpu}\n")
        assert (
            cli(
                [
                    "train",
                    "--features",
                    str(d / "zh.parquet"),
                    "--method",
                    "vae",
                    "--config",
                    str(d / "c.yaml"),
                    "-o",
                    str(d / "m"),
                ]
            )
            == 0
        )
        proc = AnomalyScoreProcessor(model_dir=str(d / "m"))
        proc.scorer(np.zeros((1, 12)))  # warm the scorer (model load) outside the timing
        rows = []
        for name, ex in (
            ("coffea Iterative", processor.IterativeExecutor(status=False)),
            ("coffea Futures (2 workers)", processor.FuturesExecutor(workers=2, status=False)),
        ):
            start = time.perf_counter()
            processor.Runner(executor=ex, schema=NanoAODSchema, chunksize=25_000)(
                {"ZH": [str(d / "big.root")]}, proc, treename="Events"
            )
            rows.append((name, time.perf_counter() - start))
        import dask
        from distributed import Client, LocalCluster

        start = time.perf_counter()
        dask.compute(proc.process(dask_events(d / "big.root", 25_000)), scheduler="sync")
        rows.append(("coffea dask mode (sync scheduler)", time.perf_counter() - start))
        with (
            LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
            Client(cluster),
        ):
            start = time.perf_counter()
            dask.compute(proc.process(dask_events(d / "big.root", 25_000)))
            rows.append(("coffea dask mode (2 dask workers)", time.perf_counter() - start))
        scorer = LazyScorer(str(d / "m"))
        scorer(np.zeros((1, 12)))
        start = time.perf_counter()
        for events in iter_root_events(d / "big.root", step_size=25_000):
            scorer(vh_features(events).matrix())
        rows.append(("reference (uproot + features + score)", time.perf_counter() - start))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}; {args.events} events"
    )
    print(f"{'path':<40}{'seconds':>9}{'events/s':>12}")
    for name, sec in rows:
        print(f"{name:<40}{sec:>9.2f}{args.events / sec:>12,.0f}")
    ref = rows[-1][1]
    for name, sec in rows[:-1]:
        print(f"{name} / reference: {ref / sec:.2f}x the reference rate")


if __name__ == "__main__":
    main()
