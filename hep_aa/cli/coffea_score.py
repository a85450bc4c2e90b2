"""``hep-aa coffea-score``: run the anomaly-score coffea processor over a fileset.

Executors: ``iterative`` and ``futures`` (coffea ``Runner`` on eager chunks) and ``dask``
(coffea's dask mode: ``NanoEventsFactory.from_root(..., mode="dask")``, dask-awkward and
``hist.dask``, computed on a local ``distributed`` cluster). All three give identical
histograms. Every input file is opened before the run, so a missing or truncated file, a
wrong ``--treename`` or a schema mismatch is one ``DataFormatError`` line naming the file;
errors raised inside coffea are unwrapped to their cause (coffea's retries are off: a bad
local file does not get better by reading it again).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import numpy as np

from hep_aa.exceptions import DataFormatError, DependencyError, HepAAError

log = logging.getLogger(__name__)


def _fileset(entries: tuple[str, ...]) -> dict[str, list[str]]:
    if len(entries) == 1 and entries[0].endswith(".json"):
        path = Path(entries[0])
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataFormatError(f"{path}: file not found") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataFormatError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise DataFormatError(f"{path}: a fileset maps dataset names to lists of files")
        out = {}
        for name, files in data.items():
            if isinstance(files, dict):  # coffea style {"files": {path: treename}}
                files = list(files.get("files", files))
            if not isinstance(files, list):
                raise DataFormatError(f"{path}: dataset {name!r} must list files, got {type(files).__name__}")
            out[str(name)] = [str(f) for f in files]
        return out
    out = {}
    for entry in entries:
        if "=" not in entry:
            raise DataFormatError(f"{entry!r}: expected FILESET.json or NAME=file1.root,file2.root")
        name, files = entry.split("=", 1)
        out[name] = [f for f in files.split(",") if f]
        if not out[name]:
            raise DataFormatError(f"{entry!r}: dataset {name!r} lists no file")
    return out


def _check_files(files: dict[str, list[str]], treename: str, schema: str) -> dict[str, int]:
    """Open every file before coffea does: one clear error per bad input. Returns entries per file."""
    import uproot

    entries: dict[str, int] = {}
    for dataset, paths in files.items():
        for name in paths:
            path = Path(name)
            if not path.is_file():
                raise DataFormatError(f"{name}: file not found (dataset {dataset!r})")
            try:
                with uproot.open(path) as f:
                    keys = sorted({k.split(";")[0] for k in f.keys(recursive=False)})
                    if treename not in keys:
                        hint = ""
                        if "Delphes" in keys and schema == "nanoaod":
                            hint = "; for a Delphes file pass --schema delphes --treename Delphes"
                        elif "Events" in keys:
                            hint = "; pass --treename Events"
                        raise DataFormatError(f"{name}: no tree {treename!r} (keys: {keys[:8]}){hint}")
                    tree = f[treename]
                    branches = set(tree.keys())
                    if schema == "nanoaod" and "Delphes" in keys and "nJet" not in branches:
                        raise DataFormatError(
                            f"{name}: a Delphes file read with the NanoAOD schema; pass --schema delphes --treename Delphes"
                        )
                    entries[name] = int(tree.num_entries)
                    if entries[name]:  # the last basket of one branch: catches truncated files
                        first = next(iter(tree.values()))
                        first.array(entry_start=entries[name] - 1, entry_stop=entries[name], library="np")
            except HepAAError:
                raise
            except Exception as exc:  # uproot raises many types for truncated/non-ROOT bytes
                raise DataFormatError(
                    f"{name}: not a readable ROOT file ({_first_line(exc)}); is it truncated?"
                ) from None
    return entries


@contextlib.contextmanager
def _ascii_paths(files: dict[str, list[str]]) -> Iterator[dict[str, list[str]]]:
    """coffea's Runner fails on non-ASCII paths (UnicodeEncodeError): hand it ASCII symlinks."""
    if all(p.isascii() for paths in files.values() for p in paths):
        yield files
        return
    with tempfile.TemporaryDirectory(prefix="hep_aa_coffea_") as tmp:
        out: dict[str, list[str]] = {}
        for dataset, paths in files.items():
            out[dataset] = []
            for i, p in enumerate(paths):
                if p.isascii():
                    out[dataset].append(p)
                    continue
                link = Path(tmp) / f"{len(out)}_{i}.root"
                link.symlink_to(Path(p).resolve())
                out[dataset].append(str(link))
        yield out


def _first_line(exc: BaseException) -> str:
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return (text or type(exc).__name__)[:300]


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost HepAAError of the chain, else the innermost exception (coffea wraps)."""
    chain, seen = [], set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    for e in chain:
        if isinstance(e, HepAAError):
            return e
    return chain[-1]


def _write(output: str, result: dict[str, Any]) -> None:
    import uproot

    from hep_aa.io.artifacts import atomic_path

    with atomic_path(output) as tmp, uproot.recreate(tmp) as f:
        for dataset, hists in result.items():
            for name in ("score", "score_vs_mzh"):
                h = hists[name]
                for syst in h.axes["systematic"]:
                    key = name if syst == "nominal" else f"{name}_{syst}"
                    f[f"{dataset}/{key}"] = h[{"systematic": syst}]
            for name in ("cutflow", "cutflow_events"):
                cut = hists[name]
                labels = list(cut.axes[0])
                f[f"{dataset}/{name}"] = (
                    np.asarray(cut.values(), dtype=np.float64),
                    np.arange(len(labels) + 1, dtype=np.float64),
                )
            f[f"{dataset}/cutflow_labels"] = ";".join(labels)
            f[f"{dataset}/sumw"] = (np.array([float(hists["sumw"])]), np.array([0.0, 1.0]))


def _run_dask(
    proc: Any,
    files: dict[str, list[str]],
    treename: str,
    schema_cls: Any,
    workers: int,
    chunksize: int,
    entries: dict[str, int],
) -> dict[str, Any]:
    try:
        import dask
        import dask_awkward  # noqa: F401
        import hist.dask  # noqa: F401
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise DependencyError(
            f"--executor dask needs dask-awkward, dask-histogram and distributed ({exc.name} is missing): "
            "pip install 'coffea[dask-awkward]' distributed (or use --executor futures)"
        ) from None
    import uproot
    from coffea.nanoevents import NanoEventsFactory

    graphs = {}
    for dataset, paths in files.items():
        for p in paths:
            if p not in entries:  # an ASCII link to a checked file
                with uproot.open(p) as f:
                    entries[p] = int(f[treename].num_entries)
        spec = {
            p: {
                "object_path": treename,
                "steps": [[a, min(a + chunksize, entries[p])] for a in range(0, entries[p], chunksize)]
                or [[0, 0]],
            }
            for p in paths
        }
        events = NanoEventsFactory.from_root(
            spec, schemaclass=schema_cls, mode="dask", metadata={"dataset": dataset}
        ).events()
        graphs.update(proc.process(events))
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, dashboard_address=None, processes=True
        ) as cluster,
        Client(cluster),
    ):
        (result,) = dask.compute(graphs)
    return result


@contextlib.contextmanager
def _env_warning_filter(spec: str) -> Iterator[None]:
    """Append ``spec`` to ``PYTHONWARNINGS`` for the duration (worker processes read it)."""
    old = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = f"{old},{spec}" if old else spec
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PYTHONWARNINGS", None)
        else:
            os.environ["PYTHONWARNINGS"] = old


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
    "--min-pt-z", default=0.0, show_default=True, type=click.FloatRange(min=0), help="Extra pT(Z) cut [GeV]."
)
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
    min_pt_z: float,
    output: str,
) -> None:
    """Score Zh candidates of FILESET (a JSON fileset, or NAME=file1.root,...) with coffea."""
    import warnings

    from coffea import processor
    from coffea.nanoevents import DelphesSchema, NanoAODSchema

    from hep_aa.processors import AnomalyScoreProcessor

    files = _fileset(fileset)
    proc = AnomalyScoreProcessor(model_dir=model_dir, min_pt_z=min_pt_z)  # ModelError before any event
    entries = _check_files(files, treename, schema)
    schema_cls = NanoAODSchema if schema == "nanoaod" else DelphesSchema
    # minimal NanoAOD files lack cross-reference branches (Jet_muonIdx1, ...); nothing here uses
    # them. The filter must also reach the futures executor's worker processes, which start
    # from a fresh interpreter (and read PYTHONWARNINGS), not only this process.
    with (
        _env_warning_filter("ignore:Missing cross-reference index:RuntimeWarning"),
        warnings.catch_warnings(),
        _ascii_paths(files) as run_files,
    ):
        warnings.filterwarnings("ignore", message="Missing cross-reference index", category=RuntimeWarning)
        try:
            if executor == "dask":
                result = _run_dask(proc, run_files, treename, schema_cls, workers, chunksize, entries)
            else:
                ex = (
                    processor.IterativeExecutor(status=False, retries=0)
                    if executor == "iterative"
                    else processor.FuturesExecutor(workers=workers, status=False, retries=0)
                )
                run = processor.Runner(executor=ex, schema=schema_cls, chunksize=chunksize)
                result = run(run_files, proc, treename=treename)
        except (HepAAError, click.exceptions.Exit):
            raise
        except Exception as exc:
            cause = _root_cause(exc)
            if isinstance(cause, HepAAError):
                raise cause from None
            raise DataFormatError(
                f"coffea could not process {sorted(files)} ({type(cause).__name__}: {_first_line(cause)}); "
                "check the files, --treename and --schema"
            ) from None
    _write(output, result)

    def scored(h: Any) -> int:
        labels = list(h["cutflow_events"].axes[0])
        return int(h["cutflow_events"].values()[labels.index("scored")])

    summary = ", ".join(f"{k}: {scored(v)} scored of {int(v['n_events'])}" for k, v in sorted(result.items()))
    click.echo(f"{output}: {summary}")
