"""``hep-aa features``: build feature tables (parquet) from event files."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from hep_aa.cli._progress import progress_bar
from hep_aa.exceptions import DataFormatError, HepAAError


@click.group("features")
def features() -> None:
    """Build model-input feature tables from events."""


#: events per chunk of ``features lhco`` (and per task of a worker): peak RSS of one process
#: ≈ 330 MB (imports, compiled kernels) + 0.035 MB per event of a chunk, ≈ 400 MB at 2,000
DEFAULT_LHCO_CHUNK = 2_000


@dataclass(frozen=True)
class _LHCOTask:
    """One event range [lo, hi) of input number ``number`` (a picklable unit of work)."""

    number: int
    path: str
    lo: int
    hi: int
    feature_set: str
    labels: np.ndarray | None  # masterkey labels of the range (black box), else None


@dataclass(frozen=True)
class _LHCOResult:
    x: np.ndarray
    names: list[str]
    labels: np.ndarray | None  # labels of the kept events (file or masterkey), None if none
    event_index: np.ndarray
    mjj: np.ndarray
    n_events: int
    n_dropped: int


def _lhco_range(task: _LHCOTask) -> _LHCOResult:
    """Jet features of one event range: in-process for ``--workers 1``, else in a worker.

    Any failure becomes one :class:`HepAAError` naming the file and the event range."""
    from hep_aa.features.jets import feature_table, jet_features
    from hep_aa.io.lhco import iter_delphes_eflow, iter_lhco

    path = Path(task.path)
    where = f"events {task.lo}-{task.hi - 1}"
    try:
        read = iter_delphes_eflow if path.suffix == ".root" else iter_lhco
        (chunk,) = list(read(path, chunk_size=task.hi - task.lo, start=task.lo, stop=task.hi))
        feats = jet_features(chunk.particles)
        x, names = feature_table(feats, feature_set=task.feature_set)
        labels = task.labels if task.labels is not None else chunk.labels
        return _LHCOResult(
            x=x,
            names=names,
            labels=None if labels is None else np.asarray(labels)[feats.kept],
            event_index=chunk.start + np.flatnonzero(feats.kept),
            mjj=feats.columns["mjj"],
            n_events=len(chunk),
            n_dropped=feats.n_dropped,
        )
    except HepAAError as exc:
        message = str(exc)
        raise type(exc)(message if where in message else f"{message} (while computing {where})") from None
    except Exception as exc:  # fastjet, numba, HDF5 ...: name the range, keep the cause
        reason = " ".join(str(exc).split())[:300]
        raise HepAAError(f"{path}: jet features of {where} failed ({type(exc).__name__}: {reason})") from None


def _lhco_range_in_worker(task: _LHCOTask) -> _LHCOResult:
    """:func:`_lhco_range` in a pool worker, which then hands its freed heap back to the
    system (glibc otherwise keeps the pages of a chunk's temporaries, as dask's workers do)."""
    try:
        return _lhco_range(task)
    finally:
        _trim_heap()


def _trim_heap() -> None:
    import ctypes

    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # glibc only
    if trim is not None:
        trim(0)


def _run_lhco_tasks(tasks: list[_LHCOTask], workers: int) -> Iterator[_LHCOResult]:
    """Results of ``tasks`` in order: in this process, or in a pool of ``workers`` processes
    (forkserver where the platform has it, else spawn: no fork of a process holding threads)."""
    if workers == 1 or len(tasks) <= 1:
        for task in tasks:
            yield _lhco_range(task)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(tasks)), mp_context=multiprocessing.get_context(method)
    )
    try:
        futures = [pool.submit(_lhco_range_in_worker, task) for task in tasks]
        for task, future in zip(tasks, futures, strict=True):
            try:
                yield future.result()
            except BrokenProcessPool:
                raise HepAAError(
                    f"{task.path}: the worker computing events {task.lo}-{task.hi - 1} died (killed, e.g. "
                    "out of memory?); lower --chunk-size or --workers"
                ) from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@features.command("lhco")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--set",
    "feature_set",
    default="community",
    show_default=True,
    type=click.Choice(["official", "community"]),
)
@click.option(
    "--chunk-size",
    default=DEFAULT_LHCO_CHUNK,
    show_default=True,
    type=click.IntRange(min=1),
    help="Events per chunk (the unit of work of a worker; peak memory per process grows with it).",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Processes computing chunks in parallel (e.g. the cores a Snakemake rule gets); "
    "the output is identical for any number.",
)
@click.option("--masterkey", type=click.Path(dir_okay=False), help="Labels of a black box (one file only).")
@click.option(
    "--signal-type", default="signal", show_default=True, help="Anomaly type written for label-1 events."
)
@click.option(
    "--label", type=click.IntRange(0, 1), help="Label for files that carry none (Delphes, unkeyed black box)."
)
@click.option(
    "--start", default=0, show_default=True, type=click.IntRange(min=0), help="First event of each file."
)
@click.option("--stop", type=click.IntRange(min=0), help="Stop before this event of each file.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
def lhco(
    inputs: tuple[str, ...],
    feature_set: str,
    chunk_size: int,
    workers: int,
    masterkey: str | None,
    signal_type: str,
    label: int | None,
    start: int,
    stop: int | None,
    output: str,
) -> None:
    """Jet features of LHCO HDF5 files or Delphes ROOT files (anti-kT R = 1.0, two leading jets).

    Event ranges of ``--chunk-size`` events are computed in order, or by ``--workers``
    processes in parallel and put back in order; the table is written only once every range
    is done. ``--start/--stop`` select an event range of each file, so a big file can be split
    into parallel jobs whose tables ``hep-aa split`` concatenates into this same table."""
    from hep_aa.features.jets import UNITS
    from hep_aa.io.artifacts import write_table
    from hep_aa.io.lhco import count_events, event_range, has_labels, iter_delphes_eflow, read_masterkey

    if masterkey and (len(inputs) != 1 or inputs[0].endswith(".root")):
        raise DataFormatError(
            f"--masterkey {masterkey}: applies to exactly one LHCO black-box .h5 input, got {list(inputs)}"
        )
    tasks: list[_LHCOTask] = []
    for number, name in enumerate(inputs):
        path = Path(name)
        if label is None and masterkey is None and (path.suffix == ".root" or not has_labels(path)):
            kind = (
                "a Delphes file"
                if path.suffix == ".root"
                else "an LHCO file without a label column (black box)"
            )
            raise DataFormatError(
                f"{path}: {kind} carries no signal/background labels; pass --masterkey FILE "
                "(black box) or --label 0 (background) / --label 1 (signal)"
            )
        key = None
        if path.suffix == ".root":
            import uproot

            try:
                with uproot.open(path) as f:
                    total = f["Delphes"].num_entries
            except Exception:
                next(iter_delphes_eflow(path, chunk_size=1, stop=1), None)  # raises the precise error
                raise DataFormatError(f"{path}: not a readable Delphes ROOT file") from None
        else:
            total = count_events(path)
            if masterkey is not None:
                key = read_masterkey(masterkey, total)
        end = event_range(path, start, stop, total)
        for lo in range(start, end, chunk_size):
            hi = min(lo + chunk_size, end)
            tasks.append(
                _LHCOTask(number, str(path), lo, hi, feature_set, None if key is None else key[lo:hi])
            )
    blocks, labels, indices, mjj, sources = [], [], [], [], []
    n_dropped = 0
    names: list[str] = []
    unlabelled = []
    done = 0
    with progress_bar(
        f"features ({workers} worker{'s' if workers > 1 else ''})", sum(t.hi - t.lo for t in tasks)
    ) as update:
        for task, res in zip(tasks, _run_lhco_tasks(tasks, workers), strict=True):
            names = res.names
            n_dropped += res.n_dropped
            if res.labels is not None and label is None:
                lab = res.labels
            else:
                if label is None:
                    unlabelled.append(Path(task.path).name)
                lab = np.full(len(res.x), label or 0, dtype=np.int8)
            blocks.append(res.x)
            labels.append(lab)
            indices.append(res.event_index)
            mjj.append(res.mjj)
            sources.append(np.full(len(res.x), task.number, dtype=np.int16))
            done += res.n_events
            update(done)
    if not blocks or sum(len(b) for b in blocks) == 0:
        raise DataFormatError(f"no events with two jets in {list(inputs)}; nothing to write")
    lab_all = np.concatenate(labels)
    write_table(
        output,
        np.vstack(blocks),
        names,
        labels=lab_all,
        types=np.where(lab_all == 1, signal_type, "background"),
        spectators={
            "mjj_gev": np.concatenate(mjj),
            "event_index": np.concatenate(indices),
            "source_file": np.concatenate(sources),
        },
        metadata={
            "dataset": "lhco",
            "feature_set": feature_set,
            "units": UNITS[feature_set],
            "inputs": list(inputs),
            "n_dropped_fewer_than_two_jets": n_dropped,
            "unlabelled_inputs": sorted(set(unlabelled)),
        },
    )
    click.echo(
        f"{output}: {sum(len(b) for b in blocks)} events, {len(names)} features ({feature_set}); {n_dropped} dropped (< 2 jets)"
    )


@features.command("mnist")
@click.option(
    "--images",
    type=click.Path(dir_okay=False),
    help="MNIST IDX images (normal class); default: scikit-learn's digits.",
)
@click.option("--labels", type=click.Path(dir_okay=False), help="MNIST IDX labels belonging to --images.")
@click.option("--protocol", default="paper", show_default=True, type=click.Choice(["paper", "one-vs-rest"]))
@click.option(
    "--known-images",
    type=click.Path(dir_okay=False),
    help="Paper protocol: IDX images of the known anomaly (e.g. Fashion-MNIST).",
)
@click.option(
    "--known-kind",
    default="noise",
    show_default=True,
    help="Paper protocol without --known-images: synthetic kind used as known anomaly.",
)
@click.option(
    "--normal-class",
    default=0,
    show_default=True,
    type=click.IntRange(0, 9),
    help="One-vs-rest: normal digit.",
)
@click.option(
    "--known-class",
    default=1,
    show_default=True,
    type=click.IntRange(0, 9),
    help="One-vs-rest: known anomalous digit.",
)
@click.option(
    "--n-per-kind",
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Anomalies per type (paper protocol).",
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
def mnist(
    images: str | None,
    labels: str | None,
    protocol: str,
    known_images: str | None,
    known_kind: str,
    normal_class: int,
    known_class: int,
    n_per_kind: int,
    seed: int,
    output: str,
) -> None:
    """Image table (784 pixel columns in [0, 1], parquet) for an MNIST Anomaly Awareness protocol.

    paper: normal = every digit, known anomaly = --known-images (type "known-images" named
    after the file) or the synthetic --known-kind, unseen = the synthetic kinds, built from a
    pool of min(--n-per-kind, half) digits held out of the table (never background, so never
    trained on).
    one-vs-rest: normal = --normal-class, known = --known-class, unseen = each other digit.
    """
    from hep_aa.features.images import SYNTHETIC_KINDS, synthetic_images
    from hep_aa.io.artifacts import write_table
    from hep_aa.io.mnist import digits_as_mnist, read_idx_images, read_idx_labels

    if images:
        x = read_idx_images(images)
        y = read_idx_labels(labels, n_classes=10) if labels else np.zeros(len(x), dtype=np.uint8)
        if len(y) != len(x):
            raise DataFormatError(f"{labels}: {len(y)} labels for {len(x)} images in {images}")
        source = Path(images).name
    else:
        x, y = digits_as_mnist()
        source = "sklearn-digits"
    if x.shape[1] != 784:
        raise DataFormatError(f"{images}: images are {x.shape[1]} pixels; 28x28 (784) expected")
    rng = np.random.default_rng(seed)
    parts: list[tuple[np.ndarray, int, str]] = []
    if protocol == "one-vs-rest":
        for digit in range(10):
            sel = x[y == digit]
            if digit == normal_class:
                parts.append((sel, 0, "background"))
            else:
                parts.append((sel, 1, f"digit-{digit}" + (" (known)" if digit == known_class else "")))
    else:
        # The unseen kinds are built from held-out digits: a pool reserved here and never
        # written as background, so no synthetic anomaly derives from a training digit.
        reserved = np.zeros(len(x), dtype=bool)
        reserved[rng.choice(len(x), min(len(x) // 2, n_per_kind), replace=False)] = True
        pool = x[reserved]
        parts.append((x[~reserved], 0, "background"))
        if known_images:
            known = read_idx_images(known_images)
            if known.shape[1] != 784:
                raise DataFormatError(f"{known_images}: images are {known.shape[1]} pixels; 784 expected")
            known = known[rng.choice(len(known), min(len(known), n_per_kind), replace=False)]
            parts.append(
                (known, 1, "fashion-mnist" if "fashion" in str(known_images).lower() else "known-images")
            )
        elif known_kind not in SYNTHETIC_KINDS:
            raise DataFormatError(f"--known-kind {known_kind!r} is not one of {', '.join(SYNTHETIC_KINDS)}")
        for i, kind in enumerate(SYNTHETIC_KINDS):
            parts.append((synthetic_images(pool, kind, seed=seed + 1 + i), 1, kind))
    feats = np.vstack([p[0] for p in parts])
    labs = np.concatenate([np.full(len(p[0]), p[1]) for p in parts])
    types = np.concatenate([np.full(len(p[0]), p[2], dtype=object) for p in parts])
    write_table(
        output,
        feats,
        [f"px{i:03d}" for i in range(784)],
        labels=labs,
        types=types,
        metadata={
            "dataset": "mnist",
            "protocol": protocol,
            "source": source,
            "known_type": (
                "fashion-mnist" if known_images and "fashion" in str(known_images).lower() else "known-images"
            )
            if known_images
            else (f"digit-{known_class} (known)" if protocol == "one-vs-rest" else known_kind),
            # Bernoulli decoder on pixels in [0, 1]; two hidden layers instead of the paper's one
            # (README "Method and deviations": unseen-class AUROC 0.939 -> 0.951 on MNIST)
            "model_hints": {
                "scaler": "none",
                "decoder": "bernoulli",
                "hidden": [512, 256],
                "latent_dim": 20,
                "batch_size": 64,
                "epochs": 200,
                "patience": 20,
            },
        },
    )
    click.echo(f"{output}: {len(feats)} images ({', '.join(sorted(set(types)))})")


@features.command("cicids")
@click.argument("sources", nargs=-1, required=True, type=click.Path())
@click.option("--chunk-size", default=200_000, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--attempted",
    default="benign",
    show_default=True,
    type=click.Choice(["benign", "drop"]),
    help="Improved CICIDS2017: attempted flows (no attack payload) count as benign or are dropped.",
)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
def cicids(sources: tuple[str, ...], chunk_size: int, attempted: str, output: str) -> None:
    """Flow-feature table of CICIDS2017 CSV files or folders (BENIGN = background; anomaly
    type = attack family, original label kept as a spectator column). Reads the original
    MachineLearningCVE / GeneratedLabelledFlows CSVs and the improved CICIDS2017 (Engelen et
    al. 2021), detected from the header."""
    from hep_aa.io.artifacts import write_table
    from hep_aa.io.cicids import read_cicids

    table = read_cicids(list(sources), chunk_size=chunk_size, attempted=attempted)
    benign = table.families == "BENIGN"
    write_table(
        output,
        table.features,
        list(table.feature_names),
        labels=(~benign).astype(np.int8),
        types=np.where(benign, "background", table.families),
        spectators={"original_label": table.labels.astype(str)},
        metadata={
            "dataset": "cicids",
            "inputs": list(sources),
            "n_dropped_nonfinite": table.n_dropped_nonfinite,
            "layout": table.layout,
            "attempted": {"policy": attempted, "n": table.n_attempted},
            # heavy tails over many decades: signed log1p then median/IQR
            "model_hints": {"scaler": "log-robust"},
        },
    )
    click.echo(
        f"{output}: {len(table.features)} flows ({int((~benign).sum())} attacks); {table.n_dropped_nonfinite} dropped (Infinity/NaN)"
        + (
            f"; {table.n_attempted} attempted flows {'dropped' if attempted == 'drop' else 'kept as benign'}"
            if table.n_attempted
            else ""
        )
    )


@features.command("vh")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--weight",
    help="ROOT: a per-event weight branch (e.g. SMEFTweight_anom) multiplied into the generator "
    "weight genWeight (Delphes: Event.Weight); LHE: a named weight id used instead of XWGTUP.",
)
@click.option(
    "--label",
    default=0,
    show_default=True,
    type=click.IntRange(0, 1),
    help="Label of every event (1 = anomaly).",
)
@click.option(
    "--type",
    "kind",
    default=None,
    help="Anomaly type written (default: background for label 0, smeft for 1).",
)
@click.option("--chunk-size", default=50_000, show_default=True, type=click.IntRange(min=1))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
def vh(
    inputs: tuple[str, ...], weight: str | None, label: int, kind: str | None, chunk_size: int, output: str
) -> None:
    """Z h features (pT(Z), m(Zh), Collins-Soper angles, ...) of NanoAOD-like/Delphes ROOT or LHE files.

    The `weight` column is the event weight: genWeight (NanoAOD) or Event.Weight (Delphes) when
    the file has it, times the --weight branch; for LHE files XWGTUP or the named --weight."""
    from hep_aa.features.higgs import VH_FEATURES, vh_features
    from hep_aa.io.artifacts import write_table
    from hep_aa.io.lhe import read_lhe
    from hep_aa.io.root import iter_root_events

    blocks, weights, fallback = [], [], []
    n_dropped = n_in = 0
    for name in inputs:
        if name.endswith((".lhe", ".lhe.gz")):
            chunks = [read_lhe(name, weight=weight)]
        else:
            chunks = iter_root_events(name, step_size=chunk_size, weight=weight)
        for events in chunks:
            feats = vh_features(events)
            n_in += len(events)
            n_dropped += feats.n_dropped
            blocks.append(feats.matrix())
            weights.append(feats.columns["weight"])
            fallback.append(feats.columns["h_fallback"])
    x = np.vstack(blocks) if blocks else np.empty((0, len(VH_FEATURES)))
    if len(x) == 0:
        raise DataFormatError(
            f"no event of {list(inputs)} has an opposite-sign same-flavour lepton pair and two jets"
        )
    write_table(
        output,
        x,
        list(VH_FEATURES),
        labels=np.full(len(x), label),
        types=kind or ("smeft" if label else "background"),
        spectators={"weight": np.concatenate(weights), "h_fallback": np.concatenate(fallback)},
        metadata={
            "dataset": "vh",
            "inputs": list(inputs),
            "weight": weight,
            "weight_column": "ROOT: genWeight (Delphes Event.Weight, else 1) x the --weight branch; "
            "LHE: XWGTUP or the named --weight",
            "n_dropped_no_candidates": n_dropped,
            "units": "GeV",
            # VH tables are small (~600 background training events in the workflow): batch 64
            # gives the optimiser 4x the steps of 256, and the SMEFT anomalies overlap the
            # background, so the AA fine-tune runs longer with a wider hinge margin. Chosen on
            # two independently generated samples (BENCHMARKS.md "SMEFT VH: AA settings").
            "model_hints": {"batch_size": 64, "finetune_epochs": 60, "margin": 16.0},
        },
    )
    click.echo(f"{output}: {len(x)} of {n_in} events with Z and h candidates ({n_dropped} dropped)")


@features.command("higgs")
@click.argument("input_path", metavar="FILE.lhe", type=click.Path(dir_okay=False))
@click.option(
    "--background",
    default=None,
    help="Weight id of the background hypothesis (default: the event weight XWGTUP; "
    "e.g. the SM point of a SMEFTsim scan).",
)
@click.option(
    "--known",
    multiple=True,
    help="Weight id of the known anomaly: label 1, anomaly type = the id (repeatable).",
)
@click.option(
    "--unseen",
    multiple=True,
    help="Weight id of an unseen anomaly: label 1, anomaly type = the id (repeatable).",
)
@click.option(
    "--background-fraction",
    default=0.5,
    show_default=True,
    type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
    help="Share of the events given to the background; the rest is split equally among the anomalies.",
)
@click.option(
    "--unweight",
    is_flag=True,
    help="Accept-reject each part to an unweighted sample (weight = sign of the event weight).",
)
@click.option(
    "--max-weight-quantile",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0.0, 1.0, min_open=True),
    help="With --unweight: accept-reject against this quantile of |w| instead of the maximum "
    "(partial unweighting: the few events above it keep weight sign(w) |w|/w_cap, exact and far "
    "more efficient when a SMEFT weight has a long tail).",
)
@click.option(
    "--seed", default=0, show_default=True, type=int, help="Seed of the split (and the unweighting)."
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Parquet table to write (default: FILE with the suffix .parquet).",
)
def higgs(
    input_path: str,
    background: str | None,
    known: tuple[str, ...],
    unseen: tuple[str, ...],
    background_fraction: float,
    unweight: bool,
    max_weight_quantile: float,
    seed: int,
    output: str | None,
) -> None:
    """Parton-level Higgs features of an LHE file (any production mode), one hypothesis per weight.

    Columns present in every event: pT and rapidity of h; with two extra hard partons (the two
    highest-pT outgoing quarks/gluons not from the h or V decay) m_jj, |Δη_jj|, Δφ_jj; with a
    Z/W (or its decay leptons) pT and rapidity of V, m_Vh, pT_Vh, |Δφ_Vh|, the Collins-Soper
    angles and ΔR of the V decay pair.

    Without --known/--unseen: every event once, label 0, the nominal weight XWGTUP in `weight`
    and each named weight (<rwgt><wgt id=...>, e.g. a SMEFTsim scan) as `weight_<id>`.

    With --known ID [--unseen ID ...] [--background ID]: the labelled table of an Anomaly
    Awareness experiment. The events are split at random (--seed) into disjoint parts, one per
    hypothesis; each part carries its hypothesis' weight (scaled by 1/its share of the events,
    so every part's sum of weights estimates that hypothesis' total) in `weight`, or, with
    --unweight, is accept-rejected to an unweighted sample. Negative weights are kept.
    """
    from hep_aa.exceptions import ConfigError
    from hep_aa.features.higgs import hard_process_features
    from hep_aa.io.artifacts import write_table
    from hep_aa.io.lhe import NOMINAL, load_lhe

    if not known and (unseen or background is not None):
        raise ConfigError("--background/--unseen build an AA experiment table: give --known ID too")
    if output is None:
        name = Path(input_path).name
        for suffix in (".gz", ".lhe"):
            name = name.removesuffix(suffix)
        output = str(Path(input_path).with_name(name + ".parquet"))
    events = load_lhe(input_path)
    feats = hard_process_features(events.particles, sqrt_s=events.sqrt_s)
    if not feats.groups:
        raise DataFormatError(
            f"{input_path}: no parton-level feature is defined for every event (no Higgs boson, no Z/W, "
            f"fewer than two extra partons in some events; counts {feats.counts} of {len(events)})"
        )
    x = feats.matrix()
    n = len(x)
    meta = {
        "dataset": "higgs",
        "inputs": [input_path],
        "units": "GeV",
        "level": "parton (LHE)",
        "feature_groups": list(feats.groups),
        "object_counts": feats.counts,
        "n_events_in": n,
        "sqrt_s_gev": events.sqrt_s,
        "weight_ids": list(events.weights),
        "weight_descriptions": events.weight_info,
        "weight_groups": events.weight_groups,
        "sum_of_weights": {NOMINAL: float(events.weight.sum())}
        | {k: float(v.sum()) for k, v in events.weights.items()},
    }
    index = np.arange(n, dtype=np.int64)
    if not known:
        spectators = {"weight": events.weight, "event_index": index}
        spectators |= {f"weight_{k}": v for k, v in events.weights.items()}
        write_table(
            output,
            x,
            feats.names,
            labels=np.zeros(n, np.int8),
            types="background",
            spectators=spectators,
            metadata=meta,
        )
        click.echo(
            f"{output}: {n} events, {x.shape[1]} features ({', '.join(feats.groups)}); "
            f"{len(events.weights)} named weights as weight_<id> columns"
        )
        return
    background = background or NOMINAL
    parts = [(background, 0), *((k, 1) for k in known), *((u, 1) for u in unseen)]
    ids = [p[0] for p in parts]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ConfigError(
            f"weight id(s) {repeated} given for more than one hypothesis; each part needs its own"
        )
    hyp = {i: events.hypothesis(i) for i in ids}  # unknown id: one-line error listing the ids
    n_anom = len(parts) - 1
    shares = np.array([background_fraction] + [(1.0 - background_fraction) / n_anom] * n_anom)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    bounds = np.round(np.cumsum(np.r_[0.0, shares]) * n).astype(int)
    blocks, labels, types, weights, indices, report = [], [], [], [], [], {}
    for (wid, label), share, lo, hi in zip(parts, shares, bounds[:-1], bounds[1:], strict=True):
        idx = np.sort(perm[lo:hi])
        w = hyp[wid][idx]
        kind = "background" if label == 0 else wid
        if unweight:
            cap = float(np.quantile(np.abs(w), max_weight_quantile)) if len(w) else 0.0
            if cap == 0.0:
                raise DataFormatError(
                    f"{input_path}: weight {wid!r} is zero for (almost) every event of its part; cannot unweight"
                )
            ratio = np.abs(w) / cap
            keep = rng.random(len(w)) < ratio
            idx, w = idx[keep], np.sign(w[keep]) * np.maximum(ratio[keep], 1.0)
            report[kind] = {
                "weight": wid,
                "n_events": int(hi - lo),
                "n_kept": int(keep.sum()),
                "efficiency": round(float(keep.mean()), 4) if len(keep) else 0.0,
                "n_overweight": int((np.abs(w) > 1.0).sum()),
            }
        else:
            w = w / share
            report[kind] = {
                "weight": wid,
                "n_events": int(hi - lo),
                "sum_of_weights": float(w.sum()),
                "n_negative": int((w < 0).sum()),
            }
        if len(idx) == 0:
            raise DataFormatError(
                f"{input_path}: the {kind} part ({wid!r}) holds no events; use a larger file"
            )
        blocks.append(x[idx])
        labels.append(np.full(len(idx), label, np.int8))
        types.append(np.full(len(idx), kind, dtype=object))
        weights.append(w.astype(np.float64))
        indices.append(idx)
    table = np.vstack(blocks)
    meta |= {
        "hypotheses": {"background": background, "known": list(known), "unseen": list(unseen)},
        "background_fraction": background_fraction,
        "split_seed": seed,
        "unweighted": unweight,
        "max_weight_quantile": max_weight_quantile if unweight else None,
        "parts": report,
    }
    write_table(
        output,
        table,
        feats.names,
        labels=np.concatenate(labels),
        types=np.concatenate(types),
        spectators={"weight": np.concatenate(weights), "event_index": np.concatenate(indices)},
        metadata=meta,
    )
    click.echo(
        f"{output}: {len(table)} events, {table.shape[1]} features ({', '.join(feats.groups)}); "
        + "; ".join(f"{k} = {v['weight']}: {v.get('n_kept', v['n_events'])}" for k, v in report.items())
        + (" (unweighted)" if unweight else " (weighted)")
    )
