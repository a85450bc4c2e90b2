"""``hep-aa evaluate`` (metrics JSON + comparison tables) and ``hep-aa plot`` (figures)."""

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
def evaluate(scores: tuple[str, ...], config_path: str | None, table_prefix: str | None, output: str) -> None:
    """Metrics per anomaly type (seen/unseen) of SCORES (one file per method and seed)."""
    from hep_aa.config import load_config
    from hep_aa.io.artifacts import atomic_write, write_json
    from hep_aa.metrics import aggregate_seeds, type_metrics

    cfg = load_config(config_path) if config_path else load_config({"version": 1})
    ev = cfg.evaluation
    per_method: dict[str, dict[int, Any]] = defaultdict(dict)
    guards: dict[str, dict[str, Any]] = defaultdict(dict)
    datasets = set()
    for path, table in zip(scores, _load_scores(scores), strict=True):
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
            )
        except MetricError as exc:  # name the score table at fault
            raise MetricError(f"{path}: {exc}") from None
    result = {
        "dataset": sorted(d for d in datasets if d)[0] if any(datasets) else None,
        "evaluation": cfg.to_dict()["evaluation"],
        "inputs": list(scores),
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
    click.echo(
        f"{output}: metrics of {len(per_method)} method(s) over {sum(len(r) for r in per_method.values())} run(s)"
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
def plot(inputs: tuple[str, ...], features_path: str | None, config_path: str | None, output: str) -> None:
    """Figures from score tables (*.parquet), model folders and metrics (*.json).

    Score tables give score distributions, ROC and SIC curves with seed bands (one figure per
    anomaly type) and, when they carry `mjj_gev`, the mjj sculpting check; model folders give
    training curves (and, with --features, the latent projection); --features alone gives the
    input distributions.
    """
    from hep_aa.config import load_config
    from hep_aa.features.registry import anomaly_label
    from hep_aa.io.artifacts import read_json, read_table
    from hep_aa.metrics import roc_curve
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
        by_method: dict[str, list[Any]] = defaultdict(list)
        for t in tables:
            by_method[_method_key(t)[0]].append(t)
        kinds = sorted({str(k) for t in tables for k in t.types[t.labels == 1]})
        for method, runs in by_method.items():
            t = min(runs, key=lambda r: _method_key(r)[1])
            s = t.features[:, 0]
            dists = {anomaly_label("background", dataset=dataset): s[t.labels == 0]}
            known = set(t.metadata.get("known_types", []))
            for k in kinds:
                dists[anomaly_label(k, dataset=dataset, seen=k in known)] = s[
                    (t.labels == 1) & (t.types == k)
                ]
            use_style()
            fig, ax = plt.subplots()
            plot_score_distributions(
                dists, ax=ax, title=f"{METHOD_LABELS.get(method, method)}, seed {_method_key(t)[1]}"
            )
            finish(fig, f"scores_{method}")
            if "mjj_gev" in t.spectators:
                use_style()
                fig, (ax, rax) = plt.subplots(
                    2, 1, figsize=(7, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.06}
                )
                bkg = t.labels == 0
                plot_mjj_sculpting(t.spectators["mjj_gev"][bkg], s[bkg], ax=ax, rax=rax)
                finish(fig, f"mjj_sculpting_{method}")
        known_all = {str(k) for t in tables for k in t.metadata.get("known_types", [])}
        for kind in kinds:
            curves, n_bkg, first_seed = {}, {}, {}
            for method in _ordered(list(by_method)):
                per_seed = []
                name = METHOD_LABELS.get(method, method)
                for t in sorted(by_method[method], key=lambda r: _method_key(r)[1]):
                    s = t.features[:, 0]
                    b, a = s[t.labels == 0], s[(t.labels == 1) & (t.types == kind)]
                    eps_s, eps_b, _ = roc_curve(b, a)
                    per_seed.append((eps_s, eps_b))
                    n_bkg[name] = int(b.size)
                    first_seed.setdefault(name, (b, a))  # statistical band from the lowest seed
                curves[name] = per_seed
            title = "anomaly: " + anomaly_label(kind, dataset=dataset, seen=kind in known_all)
            use_style()
            fig, ax = plt.subplots()
            plot_roc(curves, n_background=n_bkg, scores=first_seed, dataset=dataset, title=title, ax=ax)
            finish(fig, f"roc_{kind}")
            use_style()
            fig, ax = plt.subplots()
            plot_sic(curves, n_bkg, scores=first_seed, dataset=dataset, title=title, ax=ax)
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
            )
            finish(plt.gcf(), "features")
    if not written:
        raise DataFormatError(f"nothing to plot from {list(inputs)}")
    click.echo(f"{output}: {len(written)} file(s)")
