"""``hep-aa evaluate`` (metrics JSON + comparison tables) and ``hep-aa plot`` (figures).

Event weights: a score table copies its feature table's spectators, so a ``weight`` column
(per-event weight, negative allowed, e.g. MadGraph NLO) travels into it; both commands then
weight every efficiency, AUC, bootstrap, histogram and curve by it (``--no-weights`` ignores
it). Either every score table of one call carries the column or none does.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

import click
import numpy as np

from hep_aa.config import method_names
from hep_aa.exceptions import DataFormatError, MetricError

log = logging.getLogger(__name__)

METHOD_ORDER = method_names()
METHOD_LABELS = {
    "vae": "Plain VAE",
    "vae-matched": "Plain VAE, epoch-matched",
    "aa-vae": "AA-VAE",
    "aa-vae-synth": "AA-VAE + synthetic",
    "synth-classifier": "Synthetic-anomaly classifier",
    "iforest": "IsolationForest",
    "supervised": "Supervised (ceiling)",
}


def _load_scores(paths: tuple[str, ...]) -> list[Any]:
    from hep_aa.io.artifacts import read_table

    tables = []
    for p in paths:
        t = read_table(p)
        if t.metadata.get("kind") != "scores" or t.feature_names != ("score",):
            raise DataFormatError(f"{p}: not a score table; create it with `hep-aa score`")
        tables.append(t)
    return tables


#: spectator column holding per-event weights (the shared convention of feature/score tables)
WEIGHT_COLUMN = "weight"


def event_weights(path: str, table: Any) -> np.ndarray | None:
    """The ``weight`` column of a table as float64, or None when it has none.

    Raises
    ------
    DataFormatError
        If the column is not numeric or holds NaN/Inf (names the file and what to do).
    """
    if WEIGHT_COLUMN not in table.spectators:
        return None
    raw = np.asarray(table.spectators[WEIGHT_COLUMN])
    if not (np.issubdtype(raw.dtype, np.floating) or np.issubdtype(raw.dtype, np.integer)):
        raise DataFormatError(
            f"{path}: column {WEIGHT_COLUMN!r} has type {raw.dtype}, not numbers; it must hold one "
            "per-event weight (float) — rename the column if it is something else"
        )
    w = raw.astype(np.float64)
    bad = int(np.count_nonzero(~np.isfinite(w)))
    if bad:
        raise DataFormatError(
            f"{path}: {bad} NaN/Inf value(s) in column {WEIGHT_COLUMN!r}; fix the weights of those events "
            "in the feature table or drop them, then score again"
        )
    return w


def _weights_of(paths: tuple[str, ...], tables: list[Any], use: bool) -> list[np.ndarray | None]:
    """Weights of every table; all or none must carry them (else the methods are not comparable)."""
    weights = [event_weights(p, t) if use else None for p, t in zip(paths, tables, strict=True)]
    with_w = [p for p, w in zip(paths, weights, strict=True) if w is not None]
    if with_w and len(with_w) != len(paths):
        without = [p for p, w in zip(paths, weights, strict=True) if w is None]
        raise DataFormatError(
            f"score tables {with_w} carry a {WEIGHT_COLUMN!r} column but {without} do not: their metrics "
            "would not be comparable; score every method on the same test table, or pass --no-weights"
        )
    return weights


def _weight_summary(table: Any, w: np.ndarray) -> dict[str, Any]:
    return {
        "sum_by_type": {
            str(k): float(w[table.types == k].sum()) for k in sorted({str(x) for x in table.types})
        },
        "n_negative": int(np.count_nonzero(w < 0)),
        "n_events": len(w),
    }


_weights_option = click.option(
    "--weights/--no-weights",
    "use_weights",
    default=True,
    show_default=True,
    help=f"Weight events by the score tables' {WEIGHT_COLUMN!r} column when present (negative allowed).",
)


def _method_key(table: Any) -> tuple[str, int]:
    return str(table.metadata.get("method") or "unknown"), int(table.metadata.get("seed") or 0)


def _ordered(methods: list[str]) -> list[str]:
    return sorted(methods, key=lambda m: (METHOD_ORDER.index(m) if m in METHOD_ORDER else 99, m))


def _cell(summary: dict[str, Any]) -> str:
    auc = summary["auc"]
    if auc["median"] is None:
        return "–"
    lo, hi = auc["band68"]
    return f"{auc['median']:.3f} [{lo:.3f}, {hi:.3f}]"


def comparison_tables(result: dict[str, Any]) -> tuple[str, str]:
    """Markdown and CSV tables: one row per method, AUC median [68% band] per anomaly type."""
    methods = _ordered(list(result["methods"]))
    kinds = sorted({k for m in methods for k in result["methods"][m]["summary"]})
    seen = {
        k: any(result["methods"][m]["summary"].get(k, {}).get("seen", False) for m in methods) for k in kinds
    }
    heads = [f"{k} ({'seen' if seen[k] else 'unseen'})" for k in kinds]
    lines = [
        f"AUC, median [68% band] over seeds — dataset {result.get('dataset') or '?'}",
        "",
        "| method | " + " | ".join(heads) + " |",
        "|---|" + "---:|" * len(heads),
    ]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(
        [
            "method",
            "anomaly_type",
            "seen",
            "auc_median",
            "auc_low68",
            "auc_high68",
            "max_sic_median",
            "n_seeds",
        ]
    )
    for m in methods:
        summ = result["methods"][m]["summary"]
        lines.append(
            f"| {METHOD_LABELS.get(m, m)} | "
            + " | ".join(_cell(summ[k]) if k in summ else "–" for k in kinds)
            + " |"
        )
        for k in kinds:
            if k in summ:
                a = summ[k]["auc"]
                writer.writerow(
                    [m, k, seen[k], a["median"], *a["band68"], summ[k]["max_sic"]["median"], a["n_seeds"]]
                )
    from hep_aa.features.registry import anomaly_type

    lines.append("")
    for k in kinds:
        desc = anomaly_type(k, dataset=result.get("dataset")).description
        lines.append(f"- `{k}` ({'seen' if seen[k] else 'unseen'}){': ' + desc if desc else ''}")
    lines.append("")
    if result.get("event_weights", {}).get("used"):
        lines.append(
            f"Events weighted by their `{WEIGHT_COLUMN}` column (negative weights included); "
            "sums of weights per type in the metrics JSON."
        )
        lines.append("")
    lines.append(guard_note(result))
    return "\n".join(lines) + "\n", buf.getvalue()


def guard_note(result: dict[str, Any]) -> str:
    """One line on the AA divergence guard: where it fired and which state each run kept."""
    fired = [
        f"{METHOD_LABELS.get(m, m)} seed {seed} (diverged at fine-tune epoch {g['guard_epoch']}, "
        + (
            "restored the pretrained state)"
            if g["restored_epoch"] < 0
            else f"restored epoch {g['restored_epoch']})"
        )
        for m in _ordered(list(result["methods"]))
        for seed, g in sorted(result["methods"][m].get("divergence_guard", {}).items())
    ]
    n_runs = sum(len(result["methods"][m]["seeds"]) for m in result["methods"])
    if not fired:
        return f"Divergence guard: not tripped in any of the {n_runs} runs."
    return f"Divergence guard tripped in {len(fired)} of {n_runs} runs: " + "; ".join(fired) + "."


@click.command("evaluate")
@click.argument("scores", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), help="Workflow config (evaluation section)."
)
@click.option(
    "--table",
    "table_prefix",
    type=click.Path(dir_okay=False),
    help="Also write PREFIX.md and PREFIX.csv comparison tables.",
)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Metrics JSON to write.")
@_weights_option
def evaluate(
    scores: tuple[str, ...], config_path: str | None, table_prefix: str | None, output: str, use_weights: bool
) -> None:
    """Metrics per anomaly type (seen/unseen) of SCORES (one file per method and seed).

    With a `weight` column in the score tables every metric is weighted (negative weights
    allowed) and the metrics JSON records it under `event_weights`, with the sum of weights
    per anomaly type of each input.
    """
    from hep_aa.config import load_config
    from hep_aa.io.artifacts import atomic_write, write_json
    from hep_aa.metrics import aggregate_seeds, type_metrics

    cfg = load_config(config_path) if config_path else load_config({"version": 1})
    ev = cfg.evaluation
    per_method: dict[str, dict[int, Any]] = defaultdict(dict)
    guards: dict[str, dict[str, Any]] = defaultdict(dict)
    datasets = set()
    tables = _load_scores(scores)
    weights = _weights_of(scores, tables, use_weights)
    weight_info: dict[str, Any] = {}
    for path, table, w in zip(scores, tables, weights, strict=True):
        method, seed = _method_key(table)
        if seed in per_method[method]:
            raise DataFormatError(f"{path}: a second score table for method {method!r} seed {seed}")
        datasets.add(table.metadata.get("dataset"))
        guard = table.metadata.get("divergence_guard") or {}
        if guard.get("tripped"):
            guards[method][str(seed)] = guard
        try:
            per_method[method][seed] = type_metrics(
                table.features[:, 0],
                table.labels,
                table.types,
                seen_types=table.metadata.get("known_types", []),
                signal_efficiencies=ev.signal_efficiencies,
                background_efficiencies=ev.background_efficiencies,
                n_bootstrap=ev.bootstrap,
                max_relative_error=ev.sic_max_relative_error,
                seed=seed,
                weights=w,
            )
        except MetricError as exc:  # name the score table at fault
            raise MetricError(f"{path}: {exc}") from None
        if w is not None:
            weight_info[path] = _weight_summary(table, w)
    result = {
        "dataset": sorted(d for d in datasets if d)[0] if any(datasets) else None,
        "evaluation": cfg.to_dict()["evaluation"],
        "inputs": list(scores),
        "event_weights": {"column": WEIGHT_COLUMN, "used": bool(weight_info), "inputs": weight_info},
        "methods": {
            m: {
                "seeds": {str(s): v for s, v in sorted(runs.items())},
                "summary": aggregate_seeds(runs),
                "divergence_guard": guards.get(m, {}),
            }
            for m, runs in per_method.items()
        },
    }
    write_json(output, result)
    if table_prefix:
        md, csv_text = comparison_tables(result)
        with atomic_write(f"{table_prefix}.md") as fh:
            fh.write(md)
        with atomic_write(f"{table_prefix}.csv") as fh:
            fh.write(csv_text)
    weighted = f", events weighted by column {WEIGHT_COLUMN!r}" if weight_info else ""
    click.echo(
        f"{output}: metrics of {len(per_method)} method(s) over "
        f"{sum(len(r) for r in per_method.values())} run(s){weighted}"
    )


@click.command("plot")
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option(
    "--features",
    "features_path",
    type=click.Path(dir_okay=False),
    help="Feature table: input distributions and latent projection.",
)
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), help="Workflow config (plots section)."
)
@click.option(
    "-o", "--output", required=True, type=click.Path(file_okay=False), help="Folder for the figures."
)
@_weights_option
def plot(
    inputs: tuple[str, ...],
    features_path: str | None,
    config_path: str | None,
    output: str,
    use_weights: bool,
) -> None:
    """Figures from score tables (*.parquet), model folders and metrics (*.json).

    Score tables give score distributions, ROC and SIC curves with seed bands (one figure per
    anomaly type) and, when they carry `mjj_gev`, the mjj sculpting check; with a `weight`
    column the score histograms (error bars from the sum of squared weights), ROC and SIC
    curves and their bootstrap bands and the mjj check are weighted, and so are the input
    distributions of a --features table with one; model folders give
    training curves (and, with --features, the latent projection); --features alone gives the
    input distributions.
    """
    from hep_aa.config import load_config
    from hep_aa.features.registry import anomaly_label
    from hep_aa.io.artifacts import read_json, read_table
    from hep_aa.metrics import effective_count, roc_curve
    from hep_aa.plotting import (
        add_label,
        plot_feature_distributions,
        plot_latent,
        plot_mean_images,
        plot_mjj_sculpting,
        plot_roc,
        plot_score_distributions,
        plot_sic,
        plot_training_history,
        save_figure,
    )

    cfg = load_config(config_path) if config_path else load_config({"version": 1})
    pc = cfg.plots
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    score_paths = [p for p in inputs if p.endswith(".parquet")]
    model_dirs = [p for p in inputs if Path(p).is_dir()]
    unknown = [p for p in inputs if p not in score_paths and p not in model_dirs and not p.endswith(".json")]
    if unknown:
        raise DataFormatError(
            f"cannot plot {unknown}: pass score tables (.parquet), model folders or metrics (.json)"
        )
    for p in inputs:
        if p.endswith(".json"):
            read_json(p)  # validated; metrics are summarised in the tables, curves come from scores

    features = read_table(features_path) if features_path else None
    dataset = features.metadata.get("dataset") if features is not None else None
    if dataset is None and score_paths:
        dataset = read_table(score_paths[0]).metadata.get("dataset")
    # labels, units and anomaly names from the feature registry; collider datasets carry the
    # sqrt(s) label, image and network-flow comparisons neither it nor "Simulation"
    groups: dict[str, np.ndarray] = {}
    if features is not None:
        groups[anomaly_label("background", dataset=dataset)] = features.labels == 0
        for k in sorted({str(x) for x in features.types[features.labels == 1]}):
            groups[anomaly_label(k, dataset=dataset)] = (features.labels == 1) & (features.types == k)

    def finish(fig: Any, stem: str) -> None:
        for ax in fig.axes[:1]:
            add_label(ax, pc.label, pc.com_energy_tev, dataset=dataset)
        written.extend(save_figure(fig, out / stem, pc.formats))

    import matplotlib.pyplot as plt

    from hep_aa.plotting import use_style

    if score_paths:
        tables = _load_scores(tuple(score_paths))
        weight_of = {
            id(t): w
            for t, w in zip(tables, _weights_of(tuple(score_paths), tables, use_weights), strict=True)
        }
        weighted = any(w is not None for w in weight_of.values())
        by_method: dict[str, list[Any]] = defaultdict(list)
        for t in tables:
            by_method[_method_key(t)[0]].append(t)
        kinds = sorted({str(k) for t in tables for k in t.types[t.labels == 1]})
        for method, runs in by_method.items():
            t = min(runs, key=lambda r: _method_key(r)[1])
            s = t.features[:, 0]
            w = weight_of[id(t)]
            masks = {anomaly_label("background", dataset=dataset): t.labels == 0}
            known = set(t.metadata.get("known_types", []))
            for k in kinds:
                masks[anomaly_label(k, dataset=dataset, seen=k in known)] = (t.labels == 1) & (t.types == k)
            use_style()
            fig, ax = plt.subplots()
            plot_score_distributions(
                {name: s[m] for name, m in masks.items()},
                weights=None if w is None else {name: w[m] for name, m in masks.items()},
                ax=ax,
                title=f"{METHOD_LABELS.get(method, method)}, seed {_method_key(t)[1]}",
            )
            finish(fig, f"scores_{method}")
            if "mjj_gev" in t.spectators:
                use_style()
                fig, (ax, rax) = plt.subplots(
                    2, 1, figsize=(7, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.06}
                )
                bkg = t.labels == 0
                plot_mjj_sculpting(
                    t.spectators["mjj_gev"][bkg],
                    s[bkg],
                    ax=ax,
                    rax=rax,
                    weights=None if w is None else w[bkg],
                )
                finish(fig, f"mjj_sculpting_{method}")
        known_all = {str(k) for t in tables for k in t.metadata.get("known_types", [])}
        for kind in kinds:
            curves, n_bkg, first_seed = {}, {}, {}
            for method in _ordered(list(by_method)):
                per_seed = []
                name = METHOD_LABELS.get(method, method)
                for t in sorted(by_method[method], key=lambda r: _method_key(r)[1]):
                    s, w = t.features[:, 0], weight_of[id(t)]
                    is_b, is_a = t.labels == 0, (t.labels == 1) & (t.types == kind)
                    b, a = s[is_b], s[is_a]
                    if w is None:
                        eps_s, eps_b, _ = roc_curve(b, a)
                        n_bkg[name] = int(b.size)
                        first_seed.setdefault(name, (b, a))  # statistical band from the lowest seed
                    else:
                        try:
                            eps_s, eps_b, _ = roc_curve(
                                b, a, background_weights=w[is_b], signal_weights=w[is_a]
                            )
                        except MetricError as exc:
                            raise MetricError(f"{t.path}, anomaly type {kind!r}: {exc}") from None
                        n_bkg[name] = effective_count(w[is_b])
                        first_seed.setdefault(name, (b, a, w[is_b], w[is_a]))
                    per_seed.append((eps_s, eps_b))
                curves[name] = per_seed
            title = "anomaly: " + anomaly_label(kind, dataset=dataset, seen=kind in known_all)
            use_style()
            fig, ax = plt.subplots()
            plot_roc(
                curves,
                n_background=n_bkg,
                scores=first_seed,
                dataset=dataset,
                title=title,
                ax=ax,
                weighted=weighted,
            )
            finish(fig, f"roc_{kind}")
            use_style()
            fig, ax = plt.subplots()
            plot_sic(curves, n_bkg, scores=first_seed, dataset=dataset, title=title, ax=ax, weighted=weighted)
            finish(fig, f"sic_{kind}")
    for folder in model_dirs:
        from hep_aa.detector import load_detector

        det = load_detector(folder)
        history = getattr(det, "history_", {})
        name = Path(folder).name
        if "pretrain" in history:
            use_style()
            fig, grid = plt.subplots(2, 2, figsize=(12, 9), sharex=True, layout="constrained")
            plot_training_history(history, axes=list(grid.ravel()))
            finish(fig, f"training_{name}")
        if features is not None and hasattr(det, "encode"):
            use_style()
            fig, ax = plt.subplots()
            plot_latent({k: det.encode(features.features[m]) for k, m in groups.items() if m.any()}, ax=ax)
            finish(fig, f"latent_{name}")
    if features is not None:
        n_features = len(features.feature_names)
        if n_features > 30 and int(np.sqrt(n_features)) ** 2 == n_features:
            plot_mean_images(features.features, groups, side=int(np.sqrt(n_features)))
            written.extend(save_figure(plt.gcf(), out / "features", pc.formats))  # images: no axis label
        else:
            plot_feature_distributions(
                features.features[:, :30],
                features.feature_names[:30],
                groups,
                dataset=dataset,
                feature_set=features.metadata.get("feature_set"),
                weights=event_weights(features_path, features) if use_weights else None,
            )
            finish(plt.gcf(), "features")
    if not written:
        raise DataFormatError(f"nothing to plot from {list(inputs)}")
    click.echo(f"{output}: {len(written)} file(s)")
