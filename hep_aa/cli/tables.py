"""``hep-aa split`` (train/test tables) and ``hep-aa summary`` (one table of every dataset)."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from hep_aa.exceptions import DataFormatError


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
def split(inputs: tuple[str, ...], test_fraction: float, seed: int, train_out: str, test_out: str) -> None:
    """Concatenate feature tables and split them into train and test, stratified by anomaly type."""
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
    spect = {k: np.concatenate([t.spectators[k] for t in tables]) for k in sorted(common)}
    rng = np.random.default_rng(seed)
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
            metadata={**meta, "split": part, "split_seed": seed},
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
