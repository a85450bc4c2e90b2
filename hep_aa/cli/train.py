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


SEED_FIELD = "{seed}"
METHOD_FIELD = "{method}"


def _seed_list(seed: int | None, seeds: str | None) -> list[int]:
    """The seeds to train: ``--seeds 0,1,2``, else ``--seed`` (default 0)."""
    if seeds is None:
        return [0 if seed is None else seed]
    if seed is not None:
        raise click.UsageError("give --seed or --seeds, not both")
    out = []
    for part in seeds.split(","):
        try:
            value = int(part.strip())
        except ValueError:
            raise click.BadParameter(
                f"{seeds!r} is not a comma-separated list of integers (e.g. 0,1,2)", param_hint="--seeds"
            ) from None
        if value < 0:
            raise click.BadParameter(f"seeds must be >= 0, got {value}", param_hint="--seeds")
        out.append(value)
    if len(set(out)) != len(out):
        raise click.BadParameter(f"{seeds!r} repeats a seed", param_hint="--seeds")
    return out


def _per_run(template: str, seeds: list[int], methods: list[str], option: str) -> dict[tuple[str, int], str]:
    """``template`` with ``{seed}`` and ``{method}`` replaced, per (method, seed); several
    seeds (methods) need the ``{seed}`` (``{method}``) field."""
    for field, values, example in (
        (SEED_FIELD, seeds, "vae_seed{seed}"),
        (METHOD_FIELD, methods, "{method}_seed0"),
    ):
        if len(values) > 1 and field not in template:
            raise click.UsageError(
                f"{option} {template!r} has no {field} field; with several values each needs "
                f"its own path, e.g. 'models/{example}'"
            )
    return {
        (m, s): template.replace(SEED_FIELD, str(s)).replace(METHOD_FIELD, m) for m in methods for s in seeds
    }


def _run_label(method: str, seed: int, methods: list[str]) -> str:
    return f"seed {seed}" if len(methods) == 1 else f"{method}, seed {seed}"


def _weights_of(table: object, path: str, rows: np.ndarray) -> np.ndarray | None:
    """The ``weight`` spectator of ``table`` at ``rows`` (None when the table has none)."""
    column = table.spectators.get("weight")  # type: ignore[attr-defined]
    if column is None:
        return None
    w = np.asarray(column, dtype=np.float64)[rows]
    if not np.all(np.isfinite(w)):
        raise DataFormatError(f"{path}: column 'weight' holds NaN/Inf; fix those events or pass --no-weights")
    return w


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
@click.option(
    "--method",
    "methods",
    required=True,
    multiple=True,
    type=click.Choice(METHOD_NAMES),
    help="Detector to train; repeat it to train several in one call (OUTPUT and --scores then "
    "contain {method}): the VAE methods then share their stage-1 pretraining, with the same "
    "results as separate calls.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Workflow config (model and training sections); default: schema defaults.",
)
@click.option("--seed", type=click.IntRange(min=0), help="Seed of one model  [default: 0]")
@click.option(
    "--seeds",
    metavar="S1,S2,...",
    help="Train one model per seed in this one call (e.g. 0,1,2), each written as soon as it is "
    "done; OUTPUT (and --scores) must then contain {seed}. Same results as one call per seed.",
)
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
    "--weights/--no-weights",
    default=True,
    show_default=True,
    help="Fit with the tables' per-event 'weight' column as sample_weight (tables without one: "
    "unit weights).",
)
@click.option(
    "--score-features",
    "score_path",
    type=click.Path(dir_okay=False),
    help="After each seed, score this table (e.g. the test split) with the saved model, as "
    "'hep-aa score' does; needs --scores.",
)
@click.option(
    "--scores",
    "scores_out",
    type=click.Path(dir_okay=False),
    help="Score table to write per seed (parquet; {seed} is replaced by the seed).",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(file_okay=False),
    help="Model folder to write ({seed} is replaced by the seed).",
)
def train(
    features_path: str,
    anomalies_path: str | None,
    known_type: tuple[str, ...],
    methods: tuple[str, ...],
    config_path: str | None,
    seed: int | None,
    n_known: int | None,
    gamma_l: float | None,
    output: str,
    threads: int | None = None,
    seeds: str | None = None,
    weights: bool = True,
    score_path: str | None = None,
    scores_out: str | None = None,
) -> None:
    """Train a detector (METHOD) for one or several seeds and save each as safetensors + JSON.

    With --score-features and --scores, each seed's model then scores a table in the same
    call: one job trains and scores every seed of a method, with the same files (bit for bit,
    at the same --threads) as one 'hep-aa train' plus one 'hep-aa score' per seed. Several
    --method options train every method for each seed; the VAE methods (vae, vae-matched,
    aa-vae, aa-vae-synth) then run their common stage 1 once per seed.
    """
    from hep_aa.config import load_config
    from hep_aa.io.artifacts import check_outputs, read_table

    seed_list = _seed_list(seed, seeds)
    if (score_path is None) != (scores_out is None):
        raise click.UsageError("give --score-features and --scores together")
    if n_known is not None and gamma_l is not None:
        raise click.UsageError("give --n-known or --gamma-l, not both")
    method_list = list(dict.fromkeys(methods))
    models = _per_run(output, seed_list, method_list, "-o/--output")
    score_tables = _per_run(scores_out, seed_list, method_list, "--scores") if scores_out else {}
    inputs = {
        name: [path]
        for name, path in (
            ("--features", features_path),
            ("--anomalies", anomalies_path),
            ("--config", config_path),
            ("--score-features", score_path),
        )
        if path
    }
    check_outputs(
        inputs,
        {
            **{f"-o/--output ({_run_label(m, s, method_list)})": p for (m, s), p in models.items()},
            **{f"--scores ({_run_label(m, s, method_list)})": p for (m, s), p in score_tables.items()},
        },
    )

    torch_threads = _pin_threads(threads)
    cfg = load_config(config_path) if config_path else load_config({"version": 1})
    table = read_table(features_path)
    is_background = np.flatnonzero(table.labels == 0)
    background = table.features[is_background]
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
    known_rows = np.flatnonzero(mask)
    if gamma_l is not None:
        wanted = max(1, round(gamma_l / (1.0 - gamma_l) * len(background)))
    else:
        wanted = n_known if n_known is not None else cfg.training.n_known_anomalies
    needs_labels = [m for m in method_list if m in ("aa-vae", "aa-vae-synth", "supervised")]
    if needs_labels and len(known_rows) == 0:
        raise DataFormatError(
            f"method {needs_labels[0]!r} needs labelled anomalies but {anomalies_path or features_path} has no label-1 rows"
            + (f" of type(s) {list(known_type)}" if known_type else "")
            + "; pass --anomalies or choose another method"
        )
    w_background = _weights_of(table, features_path, is_background) if weights else None
    w_source = _weights_of(source, anomalies_path or features_path, known_rows) if weights else None
    weighted = w_background is not None or w_source is not None
    to_score = read_table(score_path) if score_path else None
    overrides = _hints_not_set_by_user(dict(table.metadata.get("model_hints", {})), cfg)
    known_types = sorted({str(t) for t in source.types[known_rows]})
    from hep_aa.detector import shared_stage1

    with shared_stage1():
        for s in seed_list:
            rng = np.random.default_rng(s)
            pick = np.arange(len(known_rows))
            if len(known_rows) > wanted:
                pick = rng.choice(len(known_rows), wanted, replace=False)
            known = source.features[known_rows[pick]]
            x = np.vstack([background, known])
            y = np.r_[np.zeros(len(background)), np.ones(len(known))]
            sample_weight = None
            if weighted:
                sample_weight = np.r_[
                    w_background if w_background is not None else np.ones(len(background)),
                    w_source[pick] if w_source is not None else np.ones(len(known)),
                ]
            for method in method_list:
                provenance = {
                    "method": method,
                    "seed": s,
                    "features": features_path,
                    "anomalies": anomalies_path,
                    "known_types": known_types if len(known) else [],
                    "n_background": len(background),
                    "n_known": len(known),
                    "dataset": table.metadata.get("dataset"),
                    "train_seconds": None,  # set by _fit_and_save
                    "torch_threads": torch_threads,
                    "sample_weight": "weight" if weighted else None,
                }
                out = models[method, s]
                _fit_and_save(
                    method, cfg, s, overrides, x, y, sample_weight, list(table.feature_names), out, provenance
                )
                if to_score is not None:
                    _score_table(out, to_score, score_path, score_tables[method, s])  # type: ignore[arg-type]


def _fit_and_save(
    method: str,
    cfg: object,
    seed: int,
    overrides: dict[str, object],
    x: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    feature_names: list[str],
    output: str,
    provenance: dict[str, object],
) -> None:
    """Fit one seed's detector and save it (atomically) with its provenance."""
    from hep_aa.detector import make_detector

    detector = make_detector(method, cfg, seed=seed, **overrides)
    n_known = int(np.sum(y == 1))
    log.info(
        "training %s (seed %d) on %d background and %d known anomalies%s",
        method,
        seed,
        len(y) - n_known,
        n_known,
        " (weighted)" if sample_weight is not None else "",
    )
    start = time.perf_counter()
    detector.fit(x, y, sample_weight=sample_weight, feature_names=feature_names)
    elapsed = time.perf_counter() - start
    detector.save(output, provenance={**provenance, "train_seconds": round(elapsed, 3)})
    click.echo(
        f"{output}: {method} trained on {len(y) - n_known} background + {n_known} known anomalies in {elapsed:.1f} s"
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
    from hep_aa.io.artifacts import read_table

    _pin_threads(threads)
    _score_table(model_dir, read_table(features_path), features_path, output)


def _score_table(model_dir: str, table: object, features_path: str, output: str) -> None:
    """Score every event of ``table`` (read from ``features_path``) with the model saved in
    ``model_dir`` and write the score table ``output`` (spectators such as ``weight`` kept)."""
    from hep_aa.io.artifacts import write_table
    from hep_aa.saved_model import load_scorer

    # torch models are restored without scikit-learn (its import costs more than the scoring)
    detector = load_scorer(model_dir)
    if detector is None:
        from hep_aa.detector import load_detector

        detector = load_detector(model_dir)
    if list(table.feature_names) != list(detector.feature_names_in_):  # type: ignore[attr-defined]
        raise DataFormatError(
            f"{features_path}: feature columns {list(table.feature_names)} differ from the model's "  # type: ignore[attr-defined]
            f"{list(detector.feature_names_in_)} ({model_dir}); build features with the same feature set"
        )
    scores = detector.decision_function(table.features)  # type: ignore[attr-defined]
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
            "model_class": getattr(detector, "class_name", type(detector).__name__),
            "method": provenance.get("method"),
            "seed": provenance.get("seed"),
            "known_types": provenance.get("known_types", []),
            "divergence_guard": guard,
            "dataset": table.metadata.get("dataset"),
            "features": features_path,
        },
    )
    click.echo(f"{output}: {len(scores)} events scored")
