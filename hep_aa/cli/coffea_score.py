"""``hep-aa coffea-score``: run the anomaly-score coffea processor over a fileset."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click
import numpy as np

from hep_aa.exceptions import DataFormatError, DependencyError

log = logging.getLogger(__name__)


def _fileset(entries: tuple[str, ...]) -> dict[str, list[str]]:
    if len(entries) == 1 and entries[0].endswith(".json"):
        path = Path(entries[0])
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataFormatError(f"{path}: file not found") from None
        except json.JSONDecodeError as exc:
            raise DataFormatError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise DataFormatError(f"{path}: a fileset maps dataset names to lists of files")
        out = {}
        for name, files in data.items():
            if isinstance(files, dict):  # coffea style {"files": {path: treename}}
                files = list(files.get("files", files))
            out[str(name)] = [str(f) for f in files]
        return out
    out = {}
    for entry in entries:
        if "=" not in entry:
            raise DataFormatError(f"{entry!r}: expected FILESET.json or NAME=file1.root,file2.root")
        name, files = entry.split("=", 1)
        out[name] = [f for f in files.split(",") if f]
    return out


def _write(output: str, result: dict[str, Any]) -> None:
    import uproot

    from hep_aa.io.artifacts import atomic_path

    with atomic_path(output) as tmp, uproot.recreate(tmp) as f:
        for dataset, hists in result.items():
            f[f"{dataset}/score"] = hists["score"]
            f[f"{dataset}/score_vs_mzh"] = hists["score_vs_mzh"]
            cut = hists["cutflow"]
            labels = list(cut.axes[0])
            f[f"{dataset}/cutflow"] = (
                np.asarray(cut.values(), dtype=np.float64),
                np.arange(len(labels) + 1, dtype=np.float64),
            )
            f[f"{dataset}/cutflow_labels"] = ";".join(labels)
            f[f"{dataset}/sumw"] = (np.array([hists["sumw"]]), np.array([0.0, 1.0]))


@click.command("coffea-score")
@click.argument("model_dir", type=click.Path(file_okay=False))
@click.argument("fileset", nargs=-1, required=True)
@click.option(
    "--executor", default="futures", show_default=True, type=click.Choice(["iterative", "futures", "dask"])
)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1))
@click.option("--chunksize", default=100_000, show_default=True, type=click.IntRange(min=1))
@click.option("--treename", default="Events", show_default=True)
@click.option("--schema", default="nanoaod", show_default=True, type=click.Choice(["nanoaod", "delphes"]))
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="ROOT file for the histograms."
)
def coffea_score(
    model_dir: str,
    fileset: tuple[str, ...],
    executor: str,
    workers: int,
    chunksize: int,
    treename: str,
    schema: str,
    output: str,
) -> None:
    """Score Zh candidates of FILESET (a JSON fileset, or NAME=file1.root,...) with coffea."""
    import warnings

    from coffea import processor
    from coffea.nanoevents import DelphesSchema, NanoAODSchema

    from hep_aa.processors import AnomalyScoreProcessor

    files = _fileset(fileset)
    proc = AnomalyScoreProcessor(model_dir=model_dir)
    schema_cls = NanoAODSchema if schema == "nanoaod" else DelphesSchema
    with warnings.catch_warnings():
        # minimal NanoAOD files lack cross-reference branches (Jet_muonIdx1, ...); nothing here uses them
        warnings.filterwarnings("ignore", message="Missing cross-reference index", category=RuntimeWarning)
        if executor == "dask":
            try:
                from distributed import Client, LocalCluster
            except ImportError:
                raise DependencyError(
                    "--executor dask needs dask.distributed: pip install 'hep_aa[cluster]' (or use futures)"
                ) from None

            with (
                LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None) as cluster,
                Client(cluster) as client,
            ):
                run = processor.Runner(
                    executor=processor.DaskExecutor(client=client, status=False),
                    schema=schema_cls,
                    chunksize=chunksize,
                )
                result = run(files, proc, treename=treename)
        else:
            ex = (
                processor.IterativeExecutor(status=False)
                if executor == "iterative"
                else processor.FuturesExecutor(workers=workers, status=False)
            )
            run = processor.Runner(executor=ex, schema=schema_cls, chunksize=chunksize)
            result = run(files, proc, treename=treename)
    _write(output, result)

    def scored(h: Any) -> int:
        labels = list(h["cutflow"].axes[0])
        return (
            int(h["cutflow"].values()[labels.index("finite features")]) if "finite features" in labels else 0
        )

    summary = ", ".join(f"{k}: {scored(v)} scored of {v['n_events']}" for k, v in sorted(result.items()))
    click.echo(f"{output}: {summary}")
