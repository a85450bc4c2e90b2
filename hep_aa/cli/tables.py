"""``hep-aa split`` (train/test tables) and ``hep-aa summary`` (one table of every dataset)."""

from __future__ import annotations

import logging
from pathlib import Path

import click
import numpy as np

from hep_aa.exceptions import DataFormatError

log = logging.getLogger(__name__)

#: spectator column holding per-event weights (absent = unit weights)
WEIGHT_COLUMN = "weight"


def unweight(
    weights: np.ndarray, types: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, float]]:
    """Accept-reject every anomaly type to an unweighted sample.

    An event of type T is kept with probability |w|/max_T|w| (the largest |w| of its type)
    and then carries weight sign(w) = ±1, so weighted sums (cross sections, distributions) are
    preserved on average, each type separately. Events of zero weight are always dropped.

    Returns
    -------
    keep : ndarray of bool
        Accepted events.
    efficiency : dict of str to float
        Expected fraction kept per type, Σ|w| / (N max|w|).
    """
    keep = np.zeros(weights.size, dtype=bool)
    efficiency: dict[str, float] = {}
    for kind in sorted({str(k) for k in types}):
        idx = np.flatnonzero(types == kind)
        a = np.abs(weights[idx])
        w_max = float(a.max())
        if w_max == 0:
            raise DataFormatError(
                f"every event of type {kind!r} has weight 0: nothing survives --unweight; check the "
                f"{WEIGHT_COLUMN!r} column"
            )
        p = a / w_max
        keep[idx] = rng.random(idx.size) < p
        efficiency[kind] = float(p.mean())
    return keep, efficiency


@click.command("split")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--test-fraction",
    default=0.5,
    show_default=True,
    type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--train", "train_out", required=True, type=click.Path(dir_okay=False))
@click.option("--test", "test_out", required=True, type=click.Path(dir_okay=False))
@click.option(
    "--unweight",
    "unweight_events",
    is_flag=True,
    help=f"Accept-reject every anomaly type to unweighted events (kept with probability |w|/max|w| of "
    f"its type, new {WEIGHT_COLUMN!r} = sign(w) = ±1) before splitting; needs a {WEIGHT_COLUMN!r} column.",
)
def split(
    inputs: tuple[str, ...],
    test_fraction: float,
    seed: int,
    train_out: str,
    test_out: str,
    unweight_events: bool,
) -> None:
    """Concatenate feature tables and split them into train and test, stratified by anomaly type.

    Spectator columns common to all inputs are carried along. The per-event `weight` column
    is carried whenever any input has one (inputs without it get unit weights). With
    --unweight the events are first unweighted per type (seeded by --seed; the acceptance
    of each type is printed and stored in the metadata).
    """
    from hep_aa.io.artifacts import read_table, write_table

    tables = [read_table(p) for p in inputs]
    names = tables[0].feature_names
    for p, t in zip(inputs, tables, strict=True):
        if t.feature_names != names:
            raise DataFormatError(
                f"{p}: feature columns differ from {inputs[0]}; build all inputs with the same feature set"
            )
    common = set.intersection(*(set(t.spectators) for t in tables))
    x = np.vstack([t.features for t in tables])
    labels = np.concatenate([t.labels for t in tables])
    types = np.concatenate([t.types for t in tables])
    spect = {k: np.concatenate([t.spectators[k] for t in tables]) for k in sorted(common - {WEIGHT_COLUMN})}
    weighted = [p for p, t in zip(inputs, tables, strict=True) if WEIGHT_COLUMN in t.spectators]
    if weighted:
        unit = [p for p in inputs if p not in weighted]
        if unit:
            log.info("%s: no %r column, unit weights", ", ".join(unit), WEIGHT_COLUMN)
        parts = []
        for p, t in zip(inputs, tables, strict=True):
            col = np.asarray(t.spectators.get(WEIGHT_COLUMN, np.ones(len(t))))
            if not (np.issubdtype(col.dtype, np.floating) or np.issubdtype(col.dtype, np.integer)):
                raise DataFormatError(
                    f"{p}: column {WEIGHT_COLUMN!r} has type {col.dtype}; weights are numbers"
                )
            col = col.astype(np.float64)
            if not np.all(np.isfinite(col)):
                raise DataFormatError(
                    f"{p}: {int(np.count_nonzero(~np.isfinite(col)))} NaN/Inf value(s) in column "
                    f"{WEIGHT_COLUMN!r}; fix or drop those events"
                )
            parts.append(col)
        spect[WEIGHT_COLUMN] = np.concatenate(parts)
    rng = np.random.default_rng(seed)
    meta_extra: dict[str, object] = {}
    if unweight_events:
        if not weighted:
            raise DataFormatError(
                f"--unweight needs a {WEIGHT_COLUMN!r} column, and none of {list(inputs)} has one; "
                "the events are unweighted already"
            )
        keep, efficiency = unweight(spect[WEIGHT_COLUMN], types, rng)
        for kind, eff in efficiency.items():
            n_kind = int((types == kind).sum())
            click.echo(
                f"unweighting {kind}: acceptance {eff:.4g} "
                f"({int(keep[types == kind].sum())} of {n_kind} events kept)"
            )
        spect[WEIGHT_COLUMN] = np.sign(spect[WEIGHT_COLUMN])
        x, labels, types = x[keep], labels[keep], types[keep]
        spect = {k: v[keep] for k, v in spect.items()}
        meta_extra["unweighted"] = {"seed": seed, "acceptance": efficiency}
    test_mask = np.zeros(len(x), dtype=bool)
    for kind in sorted({str(k) for k in types}):
        idx = np.flatnonzero(types == kind)
        chosen = rng.choice(idx, round(test_fraction * len(idx)), replace=False)
        test_mask[chosen] = True
    meta = {
        k: v
        for k, v in tables[0].metadata.items()
        if k not in ("feature_columns", "label_column", "type_column")
    }
    meta["inputs"] = list(inputs)
    for out, mask, part in ((train_out, ~test_mask, "train"), (test_out, test_mask, "test")):
        write_table(
            out,
            x[mask],
            list(names),
            labels=labels[mask],
            types=types[mask],
            spectators={k: v[mask] for k, v in spect.items()},
            metadata={**meta, **meta_extra, "split": part, "split_seed": seed},
        )
    click.echo(f"{train_out}: {int((~test_mask).sum())} events; {test_out}: {int(test_mask.sum())} events")


@click.command("summary")
@click.argument("tables", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
def summary(tables: tuple[str, ...], output: str) -> None:
    """Concatenate per-dataset comparison tables (Markdown) into one summary file."""
    from hep_aa.io.artifacts import atomic_write

    parts = [
        "# hep_aa summary",
        "",
        "Anomaly Awareness versus baselines, per dataset (AUC on the test split).",
        "",
    ]
    for t in tables:
        p = Path(t)
        if not p.is_file():
            raise DataFormatError(f"{p}: file not found")
        try:
            text = p.read_text(encoding="utf-8").strip()
        except UnicodeDecodeError as exc:
            raise DataFormatError(
                f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start}); pass a Markdown table"
            ) from None
        parts += [f"## {p.parent.name}", "", text, ""]
    with atomic_write(output) as fh:
        fh.write("\n".join(parts))
    click.echo(f"{output}: {len(tables)} table(s)")
