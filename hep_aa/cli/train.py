"""``hep-aa train`` and ``hep-aa score``: fit a detector on a feature table, score a table."""

from __future__ import annotations

import logging
import time

import click
import numpy as np

from hep_aa.config import method_names
from hep_aa.exceptions import DataFormatError

log = logging.getLogger(__name__)

METHOD_NAMES = method_names()


def _pin_threads(threads: int | None) -> int:
    """Set torch's CPU thread count when given; return the count in use (recorded with the model)."""
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    return int(torch.get_num_threads())


@click.command("train")
@click.option(
    "--features",
    "features_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Feature table (parquet); its label-0 rows are the background.",
)
@click.option(
    "--anomalies",
    "anomalies_path",
    type=click.Path(dir_okay=False),
    help="Table of labelled (known) anomalies; default: the label-1 rows of --features.",
)
@click.option(
    "--known-type", multiple=True, help="Keep only these anomaly types as known anomalies (repeatable)."
)
@click.option("--method", required=True, type=click.Choice(METHOD_NAMES), help="Detector to train.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Workflow config (model and training sections); default: schema defaults.",
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="torch CPU threads (default: torch's, from OMP_NUM_THREADS). Same seed and same thread "
    "count give bit-identical results; a different count may change them at the 1e-6 level.",
)
@click.option(
    "--n-known",
    type=click.IntRange(min=0),
    help="Number of known anomalies to use (default: training.n_known_anomalies).",
)
@click.option(
    "--gamma-l",
    type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
    help="Known anomalies as a fraction of the training set (Deep SAD's gamma_l): "
    "n_known = gamma_l / (1 - gamma_l) x n_background; instead of --n-known.",
)
@click.option(
    "-o", "--output", required=True, type=click.Path(file_okay=False), help="Model folder to write."
)
def train(
    features_path: str,
    anomalies_path: str | None,
    known_type: tuple[str, ...],
    method: str,
    config_path: str | None,
    seed: int,
    n_known: int | None,
    gamma_l: float | None,
    output: str,
    threads: int | None = None,
) -> None:
    """Train a detector (METHOD) and save it as safetensors + JSON in OUTPUT."""
    from hep_aa.config import load_config
    from hep_aa.detector import make_detector
    from hep_aa.io.artifacts import read_table

    torch_threads = _pin_threads(threads)

    cfg = load_config(config_path) if config_path else load_config({"version": 1})
    table = read_table(features_path)
    background = table.features[table.labels == 0]
    if len(background) < 2:
        raise DataFormatError(
            f"{features_path}: has {len(background)} background (label 0) rows; need at least 2"
        )
    source = read_table(anomalies_path) if anomalies_path else table
    if source.feature_names != table.feature_names:
        raise DataFormatError(
            f"{anomalies_path}: feature columns {list(source.feature_names)} differ from "
            f"{features_path}: {list(table.feature_names)}; build both with the same feature set"
        )
    mask = source.labels == 1
    if known_type:
        mask &= np.isin(source.types, list(known_type))
    known = source.features[mask]
    if n_known is not None and gamma_l is not None:
        raise click.UsageError("give --n-known or --gamma-l, not both")
    if gamma_l is not None:
        wanted = max(1, round(gamma_l / (1.0 - gamma_l) * len(background)))
    else:
        wanted = n_known if n_known is not None else cfg.training.n_known_anomalies
    rng = np.random.default_rng(seed)
    if len(known) > wanted:
        known = known[rng.choice(len(known), wanted, replace=False)]
    needs_labels = method in ("aa-vae", "aa-vae-synth", "supervised")
    if needs_labels and len(known) == 0:
        raise DataFormatError(
            f"method {method!r} needs labelled anomalies but {anomalies_path or features_path} has no label-1 rows"
            + (f" of type(s) {list(known_type)}" if known_type else "")
            + "; pass --anomalies or choose another method"
        )
    overrides = _hints_not_set_by_user(dict(table.metadata.get("model_hints", {})), cfg)
    detector = make_detector(method, cfg, seed=seed, **overrides)
    x = np.vstack([background, known])
    y = np.r_[np.zeros(len(background)), np.ones(len(known))]
    log.info(
        "training %s (seed %d) on %d background and %d known anomalies",
        method,
        seed,
        len(background),
        len(known),
    )
    start = time.perf_counter()
    detector.fit(x, y, feature_names=list(table.feature_names))
    elapsed = time.perf_counter() - start
    detector.save(
        output,
        provenance={
            "method": method,
            "seed": seed,
            "features": features_path,
            "anomalies": anomalies_path,
            "known_types": sorted({str(t) for t in source.types[mask]}) if len(known) else [],
            "n_background": len(background),
            "n_known": len(known),
            "dataset": table.metadata.get("dataset"),
            "train_seconds": round(elapsed, 3),
            "torch_threads": torch_threads,
        },
    )
    click.echo(
        f"{output}: {method} trained on {len(background)} background + {len(known)} known anomalies in {elapsed:.1f} s"
    )


def _hints_not_set_by_user(hints: dict[str, object], cfg: object) -> dict[str, object]:
    """A feature table's model hints (e.g. the image network of ``features mnist``) replace the
    schema's defaults, never a value the user's config sets: hints whose key the config's
    ``model``/``training`` section holds at a non-default value are dropped (and logged)."""
    from hep_aa.config import load_config

    default = load_config({"version": 1})
    kept = {}
    for key, value in hints.items():
        for section in ("model", "training"):
            mine, base = getattr(cfg, section), getattr(default, section)
            if hasattr(mine, key) and getattr(mine, key) != getattr(base, key):
                log.info(
                    "model hint %s=%r not applied: the config sets %s.%s=%r",
                    key,
                    value,
                    section,
                    key,
                    getattr(mine, key),
                )
                break
        else:
            kept[key] = value
    return kept


@click.command("score")
@click.argument("model_dir", type=click.Path(file_okay=False))
@click.argument("features_path", type=click.Path(dir_okay=False))
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="Score table to write (parquet)."
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="torch CPU threads (default: torch's, from OMP_NUM_THREADS). Same seed and same thread "
    "count give bit-identical results; a different count may change them at the 1e-6 level.",
)
def score(model_dir: str, features_path: str, output: str, threads: int | None = None) -> None:
    """Score every event of FEATURES_PATH with the model in MODEL_DIR."""
    from hep_aa.detector import load_detector
    from hep_aa.io.artifacts import read_table, write_table

    _pin_threads(threads)

    detector = load_detector(model_dir)
    table = read_table(features_path)
    if list(table.feature_names) != list(detector.feature_names_in_):
        raise DataFormatError(
            f"{features_path}: feature columns {list(table.feature_names)} differ from the model's "
            f"{list(detector.feature_names_in_)} ({model_dir}); build features with the same feature set"
        )
    scores = detector.decision_function(table.features)
    provenance = getattr(detector, "provenance_", {})
    fine = getattr(detector, "history_", {}).get("finetune", {})
    guard = {
        "tripped": bool(fine.get("stopped_early", [0.0])[0]),
        "guard_epoch": int(fine.get("guard_epoch", [-1])[0]),
        "restored_epoch": int(fine.get("restored_epoch", [-1])[0]),
    }
    write_table(
        output,
        scores[:, None],
        ["score"],
        labels=table.labels,
        types=table.types,
        spectators=table.spectators,
        metadata={
            "kind": "scores",
            "model": model_dir,
            "model_class": type(detector).__name__,
            "method": provenance.get("method"),
            "seed": provenance.get("seed"),
            "known_types": provenance.get("known_types", []),
            "divergence_guard": guard,
            "dataset": table.metadata.get("dataset"),
            "features": features_path,
        },
    )
    click.echo(f"{output}: {len(scores)} events scored")
