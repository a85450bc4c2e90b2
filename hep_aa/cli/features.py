"""``hep-aa features``: build feature tables (parquet) from event files."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from hep_aa.cli._progress import progress_bar
from hep_aa.exceptions import DataFormatError


@click.group("features")
def features() -> None:
    """Build model-input feature tables from events."""


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
    default=5_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Events per chunk (peak memory grows with it).",
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
    masterkey: str | None,
    signal_type: str,
    label: int | None,
    start: int,
    stop: int | None,
    output: str,
) -> None:
    """Jet features of LHCO HDF5 files or Delphes ROOT files (anti-kT R = 1.0, two leading jets)."""
    from hep_aa.features.jets import UNITS, feature_table, jet_features
    from hep_aa.io.artifacts import write_table
    from hep_aa.io.lhco import count_events, iter_delphes_eflow, iter_lhco

    if masterkey and len(inputs) != 1:
        raise DataFormatError("--masterkey applies to exactly one input file")
    blocks, labels, indices, mjj, sources = [], [], [], [], []
    n_dropped = 0
    unlabelled = []
    for number, name in enumerate(inputs):
        path = Path(name)
        if path.suffix == ".root":
            import uproot

            try:
                with uproot.open(path) as f:
                    total = f["Delphes"].num_entries if "Delphes" in f else 0
            except Exception:
                total = 0
            chunks = iter_delphes_eflow(path, chunk_size=chunk_size, start=start, stop=stop)
        else:
            total = count_events(path)
            chunks = iter_lhco(path, chunk_size=chunk_size, start=start, stop=stop, masterkey=masterkey)
        total = (min(stop, total) if stop is not None else total) - start
        done = 0
        with progress_bar(f"features {path.name}", max(total, 0)) as update:
            for chunk in chunks:
                feats = jet_features(chunk.particles)
                x, names = feature_table(feats, feature_set)
                n_dropped += feats.n_dropped
                if chunk.labels is not None and label is None:
                    lab = np.asarray(chunk.labels)[feats.kept]
                else:
                    if label is None:
                        unlabelled.append(path.name)
                    lab = np.full(len(x), label or 0, dtype=np.int8)
                blocks.append(x)
                labels.append(lab)
                indices.append(chunk.start + np.flatnonzero(feats.kept))
                mjj.append(feats.columns["mjj"])
                sources.append(np.full(len(x), number, dtype=np.int16))
                done += len(chunk)
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
