"""Pure helpers for the Snakefile: resolved config, targets, per-dataset paths and arguments.

Nothing here runs anything; the rules in ``workflows/rules/*.smk`` call one ``hep-aa``
subcommand each and take their file names and options from these functions, so the DAG is
testable without Snakemake.

Layout under ``results/``::

    lhco/events/{sample}_chunk{i}.h5      generated chunks (qcd, signal, unseen) ...
    lhco/events/{sample}.h5               ... merged
    {dataset}/features/{part}.parquet     feature tables (part = sample name, train, test)
    {dataset}/models/{method}_seed{seed}/ model folders (model.json + model.safetensors)
    {dataset}/scores/{method}_seed{seed}.parquet
    {dataset}/metrics.json, {dataset}/table.{md,csv}, {dataset}/plots/
    summary.md
"""

from __future__ import annotations

import importlib.resources
import logging
from collections.abc import Mapping
from typing import Any

from hep_aa.config import load_config

__all__ = [
    "DATASETS",
    "LHCO_SAMPLES",
    "coffea_fileset",
    "coffea_model",
    "datasets",
    "known_types",
    "lhco_chunk_seed",
    "lhco_sample_args",
    "resolve",
    "schema_path",
    "split_inputs",
    "targets",
    "train_gpus",
    "vh_chunk_seed",
    "vh_feature_args",
    "vh_sample_args",
]

log = logging.getLogger(__name__)

DATASETS = ("lhco", "mnist", "vh", "cicids")
LHCO_SAMPLES = ("qcd", "signal", "unseen")
#: anomaly-type names written in the LHCO feature tables
LHCO_TYPES = {"signal": "wprime_known", "unseen": "wprime_unseen"}
VH_SAMPLES = ("sm", "smeft", "unseen")
#: anomaly-type names written in the VH feature tables
VH_TYPES = {"sm": "background", "smeft": "smeft_known", "unseen": "smeft_unseen"}


def schema_path() -> str:
    """Filesystem path of the packaged config schema (for ``snakemake.utils.validate``)."""
    return str(importlib.resources.files("hep_aa.config").joinpath("schema.yaml"))


def resolve(config: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a Snakemake ``config`` with hep_aa's loader and return it with defaults filled."""
    return load_config(dict(config)).to_dict()


def datasets(config: Mapping[str, Any]) -> list[str]:
    """Datasets the workflow runs, in a fixed order, logging why the others are skipped."""
    out = []
    ds = config["datasets"]
    for name in DATASETS:
        entry = ds[name]
        if not entry["enabled"]:
            log.info("dataset %s: disabled in the config", name)
            continue
        if name == "cicids" and not entry["path"]:
            log.warning(
                "dataset cicids: skipped, set datasets.cicids.path to the MachineLearningCVE CSV folder"
            )
            continue
        out.append(name)
    return out


def known_types(config: Mapping[str, Any], dataset: str) -> list[str]:
    """Anomaly types used as known (seen) anomalies in training."""
    if dataset == "lhco":
        return [LHCO_TYPES["signal"]]
    if dataset == "mnist":
        m = config["datasets"]["mnist"]
        if m["protocol"] == "one-vs-rest":
            return [f"digit-{m['known_class']} (known)"]
        return ["fashion-mnist" if m["known_anomaly_path"] else m["known_kind"]]
    if dataset == "cicids":
        return [config["datasets"]["cicids"]["known_family"]]
    if dataset == "vh":
        return [VH_TYPES["smeft"]]
    raise ValueError(f"no known anomaly types for dataset {dataset!r}")


def split_inputs(config: Mapping[str, Any], dataset: str) -> list[str]:
    """Feature tables that the train/test split of ``dataset`` concatenates: the generated
    LHCO samples, or one table built from the user's file (``datasets.<name>.path``)."""
    if dataset == "lhco" and not config["datasets"]["lhco"]["path"]:
        return [f"results/lhco/features/{sample}.parquet" for sample in LHCO_SAMPLES]
    if dataset == "vh" and not config["datasets"]["vh"]["path"]:
        return [f"results/vh/features/{sample}.parquet" for sample in VH_SAMPLES]
    return [f"results/{dataset}/features/all.parquet"]


def lhco_chunk_seed(config: Mapping[str, Any], sample: str, chunk: int) -> int:
    """Independent Pythia seed of a generation chunk (distinct per sample and chunk)."""
    return 1000 * (LHCO_SAMPLES.index(sample) + 1) + int(chunk)


def _split_count(total: int, chunks: int, chunk: int) -> int:
    base, extra = divmod(total, chunks)
    return base + (1 if chunk < extra else 0)


def lhco_sample_args(config: Mapping[str, Any], sample: str, chunk: int) -> str:
    """Command-line options of ``hep-aa generate lhco`` for one chunk of a sample."""
    lhco = config["datasets"]["lhco"]
    chunks = lhco["chunks"]
    if sample == "qcd":
        n = _split_count(lhco["n_background"], chunks, chunk)
        return f"--process qcd --n-events {n}"
    masses = lhco["signal_masses"] if sample == "signal" else lhco["unseen_masses"]
    n = _split_count(lhco["n_signal"], chunks, chunk)
    return (
        f"--process signal --n-events {n} --m-wprime {masses['m_wprime']:g} "
        f"--m-x {masses['m_x']:g} --m-y {masses['m_y']:g}"
    )


def mnist_args(config: Mapping[str, Any]) -> str:
    """Command-line options of ``hep-aa features mnist`` from the config."""
    m = config["datasets"]["mnist"]
    args = [f"--protocol {m['protocol']}", f"--n-per-kind {m['n_per_kind']}"]
    if m["path"]:
        from hep_aa.io.mnist import find_idx_pair

        images, labels = find_idx_pair(m["path"])
        args += [f"--images {images}", f"--labels {labels}"]
    if m["protocol"] == "paper":
        if m["known_anomaly_path"]:
            from hep_aa.io.mnist import find_idx_pair

            args.append(f"--known-images {find_idx_pair(m['known_anomaly_path'])[0]}")
        else:
            args.append(f"--known-kind {m['known_kind']}")
    else:
        args += [f"--normal-class {m['normal_class']}", f"--known-class {m['known_class']}"]
    return " ".join(args)


def _point_arg(name: str, point: Mapping[str, float]) -> str:
    return f"--point {name}=" + ",".join(f"{k}:{v:g}" for k, v in point.items())


def vh_sample_args(config: Mapping[str, Any], sample: str, chunk: int) -> str:
    """Command-line options of ``hep-aa generate vh`` for one chunk of a sample."""
    vh = config["datasets"]["vh"]
    total = vh["n_events"] if sample == "sm" else vh["n_anomaly"]
    args = [f"--n-events {_split_count(total, vh['chunks'], chunk)}", _point_arg("known", vh["point"])]
    args.append(_point_arg("unseen", vh["unseen_point"]))
    if sample == "smeft":
        args.append("--unweight known")
    elif sample == "unseen":
        args.append("--unweight unseen")
    return " ".join(args)


def vh_chunk_seed(config: Mapping[str, Any], sample: str, chunk: int) -> int:
    """Independent Pythia seed of a VH generation chunk."""
    return 50_000 + 1000 * VH_SAMPLES.index(sample) + int(chunk)


def vh_feature_args(sample: str) -> str:
    """Label and anomaly type options of ``hep-aa features vh`` for a sample."""
    return f"--label {0 if sample == 'sm' else 1} --type {VH_TYPES[sample]}"


def train_gpus(config: Mapping[str, Any]) -> int:
    """GPUs a training job asks the scheduler for: 1 when the config names a CUDA device."""
    return 1 if str(config["training"]["device"]).startswith("cuda") else 0


def targets(config: Mapping[str, Any]) -> list[str]:
    """Final outputs of ``rule all``: per dataset metrics, table and plots, and the summary."""
    out = []
    for ds in datasets(config):
        out += [f"results/{ds}/metrics.json", f"results/{ds}/table.md", f"results/{ds}/plots"]
    if "vh" in out_datasets(out) and not config["datasets"]["vh"]["path"]:
        out.append("results/vh/coffea_hists.root")
    if out:
        out.append("results/summary.md")
    return out


def out_datasets(paths: list[str]) -> set[str]:
    """Datasets named in a list of ``results/<dataset>/...`` paths."""
    return {p.split("/")[1] for p in paths if p.startswith("results/") and p.count("/") >= 2}


def coffea_fileset(config: Mapping[str, Any]) -> str:
    """``NAME=file,...`` arguments of ``hep-aa coffea-score`` for the generated VH samples."""
    chunks = range(config["datasets"]["vh"]["chunks"])
    return " ".join(
        f"{VH_TYPES[s]}=" + ",".join(f"results/vh/events/{s}_chunk{c}.root" for c in chunks)
        for s in VH_SAMPLES
    )


def coffea_model(config: Mapping[str, Any]) -> str:
    """Model folder the coffea processor scores with: AA-VAE of the first seed when trained."""
    methods = list(config["methods"])
    method = "aa-vae" if "aa-vae" in methods else methods[0]
    return f"results/vh/models/{method}_seed{config['seeds'][0]}"
