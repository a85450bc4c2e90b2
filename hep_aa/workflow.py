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
import itertools
import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from hep_aa.config import load_config, load_schema, validate_config

__all__ = [
    "DATASETS",
    "LHCO_SAMPLES",
    "coffea_fileset",
    "coffea_model",
    "config_json",
    "datasets",
    "known_types",
    "lhco_chunk_seed",
    "lhco_file_ranges",
    "lhco_range_args",
    "lhco_sample_args",
    "own_configfiles",
    "resolve",
    "schema_path",
    "snakefile_dir",
    "split_inputs",
    "targets",
    "train_env",
    "train_gpus",
    "vh_chunk_seed",
    "vh_feature_args",
    "vh_sample_args",
    "write_config",
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


def snakefile_dir(workflow: Any) -> str:
    """Folder of the Snakefile being parsed (the hep_aa checkout), also when it is a module
    of another workflow, where ``workflow.basedir`` is the host's folder."""
    basedir = workflow.current_basedir
    try:
        return str(basedir.get_path_or_uri(secret_free=True))
    except TypeError:  # Snakemake before 9 has no secret_free argument
        return str(basedir.get_path_or_uri())


def resolve(config: Mapping[str, Any], configfiles: Iterable[str | Path] = ()) -> dict[str, Any]:
    """Validate Snakemake's merged ``config`` and return it with every default filled.

    ``config`` is what Snakemake built: the workflow's default file, the user's
    ``--configfile`` files and ``--config`` values merged in that order, or a host
    workflow's (nested) config when used as a module. Each of ``configfiles`` is checked
    first on its own as an override, so an error names the user's file and key; then the
    merge itself, so the result is exactly what the rules get.
    """
    for file in configfiles:
        load_config(file)
    data = _coerce_strings(dict(config), load_schema())
    filled = validate_config(data, source="snakemake config (defaults, --configfile, --config)")
    return load_config(filled).to_dict()


_YAML_TYPES = {"integer": int, "number": (int, float), "boolean": bool, "null": type(None)}


def _coerce_strings(data: Any, schema: Mapping[str, Any]) -> Any:
    """Undo Snakemake's ``--config`` parsing of nested values as strings
    (``--config 'training={patience: 3}'`` gives ``"3"``): a string where the schema wants a
    number, boolean or null is read as YAML when that gives the wanted type."""
    if isinstance(data, Mapping) and "oneOf" in schema:  # e.g. a named point or a mapping
        schema = next((s for s in schema["oneOf"] if s.get("type") == "object"), schema)
    if isinstance(data, Mapping):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        return {
            k: _coerce_strings(v, props.get(k, extra if isinstance(extra, Mapping) else {}))
            for k, v in data.items()
        }
    if isinstance(data, list):
        items = schema.get("items", {})
        return [_coerce_strings(v, items) for v in data]
    if not isinstance(data, str):
        return data
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    if "string" in types:  # a path: only YAML's null spelled out means "no path"
        return None if "null" in types and data in ("null", "~") else data
    if not any(t in _YAML_TYPES for t in types):
        return data
    try:
        value = yaml.safe_load(data)
    except yaml.YAMLError:
        return data
    if isinstance(value, str) and "number" in types:  # YAML 1.1 reads 1e-3 as a string
        try:
            value = float(value)
        except ValueError:
            return data
    for t in types:
        wanted = _YAML_TYPES.get(t)
        if (
            wanted is not None
            and isinstance(value, wanted)
            and not (t != "boolean" and isinstance(value, bool))
        ):
            return value
    return data


def own_configfiles(configfiles: Iterable[str | Path], default: str | Path) -> list[str]:
    """The config files that are hep_aa configurations: all of ``configfiles`` when the
    workflow runs on its own (its ``default`` file was loaded), none when it is a module of
    another workflow (whose files hold the host's configuration)."""
    files = [str(f) for f in configfiles]
    if not any(Path(f).resolve() == Path(default).resolve() for f in files if Path(f).is_file()):
        return []
    return [f for f in files if Path(f).is_file()]


def config_json(config: Mapping[str, Any]) -> str:
    """The resolved configuration as the JSON text written to ``results/config.json``."""
    return json.dumps(load_config(dict(config)).to_dict(), indent=2) + "\n"


def write_config(config: Mapping[str, Any], path: str | Path, log: str | Path | None = None) -> None:
    """Write the resolved configuration as JSON (atomically) for the rules that read it, and
    say so in ``log`` when given."""
    from hep_aa.io.artifacts import atomic_write

    with atomic_write(path) as fh:
        fh.write(config_json(config))
    if log is not None:
        Path(log).write_text(f"hep_aa: resolved configuration written to {path}\n", encoding="utf-8")


def datasets(config: Mapping[str, Any], *, explain: bool = True) -> list[str]:
    """Datasets the workflow runs, in a fixed order, logging why the others are skipped
    (unless ``explain`` is false: the Snakefile asks once, the target list again)."""
    out = []
    ds = config["datasets"]
    for name in DATASETS:
        entry = ds[name]
        if not entry["enabled"]:
            if explain:
                log.info("dataset %s: disabled in the config", name)
            continue
        if name == "cicids" and not entry["path"]:
            if explain:
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


def train_args(config: Mapping[str, Any], dataset: str) -> str:
    """``hep-aa train`` options of ``dataset``: its known anomaly types and, where the dataset
    sets ``gamma_l``, the labelled fraction (else training.n_known_anomalies applies)."""
    args = [f"--known-type '{t}'" for t in known_types(config, dataset)]
    gamma = config["datasets"][dataset].get("gamma_l")
    if gamma is not None:
        args.append(f"--gamma-l {float(gamma)!r}")
    return " ".join(args)


def split_inputs(config: Mapping[str, Any], dataset: str) -> list[str]:
    """Feature tables that the train/test split of ``dataset`` concatenates: the generated
    LHCO samples, or one table built from the user's file (``datasets.<name>.path``)."""
    if dataset == "lhco" and not config["datasets"]["lhco"]["path"]:
        return [f"results/lhco/features/{sample}.parquet" for sample in LHCO_SAMPLES]
    if dataset == "vh" and not config["datasets"]["vh"]["path"]:
        return [f"results/vh/features/{sample}.parquet" for sample in VH_SAMPLES]
    if dataset == "lhco":
        n_parts = len(lhco_file_ranges(config))
        return [f"results/lhco/features/all_part{i}.parquet" for i in range(n_parts)]
    return [f"results/{dataset}/features/all.parquet"]


def _count_lhco_events(path: str) -> int:
    """Events of a user's LHCO-layout file (HDF5 rows, or Delphes ``Delphes`` tree entries)."""
    if str(path).lower().endswith((".root",)):
        import uproot

        with uproot.open(path) as f:
            return int(f["Delphes"].num_entries)
    from hep_aa.io.lhco import count_events

    return count_events(path)


def lhco_file_ranges(config: Mapping[str, Any]) -> list[tuple[int, int]]:
    """Event ranges ``[start, stop)`` of the user's LHCO file (``datasets.lhco.path``), one
    feature job each (``features.events_per_job`` events), so a cluster builds the features of
    a big file in parallel; ``hep-aa split`` concatenates the part tables in order.

    The file is opened only to count its events; a missing file gives one range (the rule
    then reports the missing input, as Snakemake does)."""
    path = config["datasets"]["lhco"]["path"]
    per_job = int(config["features"]["events_per_job"])
    if not path or not Path(path).exists():
        return [(0, 0)]
    n = _count_lhco_events(path)
    edges = [*range(0, n, per_job), n]
    return list(itertools.pairwise(edges)) or [(0, 0)]


def lhco_range_args(config: Mapping[str, Any], part: int) -> str:
    """``--start/--stop`` of one part of the user's LHCO file (empty for a whole-file part)."""
    start, stop = lhco_file_ranges(config)[part]
    if stop == 0:
        return ""
    return f"--start {start} --stop {stop}"


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


def _point_arg(name: str, point: str | Mapping[str, float]) -> tuple[str, str]:
    """``--point`` option of a named benchmark (its own name) or of a coupling mapping (named
    ``name``), and the name its weight is stored under."""
    if isinstance(point, str):
        return f"--point {point}", point
    return f"--point {name}=" + ",".join(f"{k}:{v:g}" for k, v in point.items()), name


def vh_sample_args(config: Mapping[str, Any], sample: str, chunk: int) -> str:
    """Command-line options of ``hep-aa generate vh`` for one chunk of a sample: every sample
    in the ``pthat_min`` slice and carrying both points' weights; the SMEFT samples unweighted
    to their point (partial unweighting at ``unweight_quantile``, with the phase-space bias)."""
    vh = config["datasets"]["vh"]
    total = vh["n_events"] if sample == "sm" else vh["n_anomaly"]
    known, known_name = _point_arg("known", vh["point"])
    unseen, unseen_name = _point_arg("unseen", vh["unseen_point"])
    if known_name == unseen_name:
        raise ValueError(
            f"datasets.vh.point and unseen_point are the same benchmark {known_name!r}; choose two points"
        )
    args = [f"--n-events {_split_count(total, vh['chunks'], chunk)}", known, unseen]
    if vh["pthat_min"] is not None:
        args.append(f"--pthat-min {float(vh['pthat_min']):g}")
    if sample != "sm":
        args.append(f"--unweight {known_name if sample == 'smeft' else unseen_name}")
        if vh["anomaly_bias_pow"] is not None:
            args.append(
                f"--bias-pow {float(vh['anomaly_bias_pow']):g} --bias-ref {float(vh['anomaly_bias_ref']):g}"
            )
        if vh["unweight_quantile"] is not None:
            args.append(f"--unweight-quantile {float(vh['unweight_quantile']):g}")
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


def train_env(config: Mapping[str, Any]) -> str:
    """Conda environment file (under ``envs/``) of the training rule: the CUDA build of torch
    when the config names a CUDA device, the CPU build otherwise."""
    return "hep-aa-cuda.yaml" if train_gpus(config) else "hep-aa.yaml"


def targets(config: Mapping[str, Any]) -> list[str]:
    """Final outputs of ``rule all``: per dataset metrics, table and plots, and the summary."""
    out = []
    for ds in datasets(config, explain=False):
        out += [f"results/{ds}/metrics.json", f"results/{ds}/table.md", f"results/{ds}/plots"]
    if "vh" in out_datasets(out) and not config["datasets"]["vh"]["path"]:
        out.append("results/vh/coffea_hists.root")
    if out:
        out.append("results/summary.md")
    return out


def out_datasets(paths: list[str]) -> set[str]:
    """Datasets named in a list of ``results/<dataset>/...`` paths."""
    return {p.split("/")[1] for p in paths if p.startswith("results/") and p.count("/") >= 2}


def coffea_fileset(events: Iterable[str]) -> str:
    """``NAME=file,...`` arguments of ``hep-aa coffea-score`` for the generated VH chunks
    ``events`` (``.../{sample}_chunk{i}.root``, as the rule's input gives them, with any
    module prefix), one dataset per sample named by its anomaly type."""
    by_sample: dict[str, list[str]] = {s: [] for s in VH_SAMPLES}
    for path in events:
        sample = Path(path).name.rsplit("_chunk", 1)[0]
        if sample not in by_sample:
            raise ValueError(f"{path}: not a generated VH chunk ({', '.join(VH_SAMPLES)})")
        by_sample[sample].append(str(path))
    return " ".join(f"{VH_TYPES[s]}=" + ",".join(files) for s, files in by_sample.items() if files)


def coffea_model(config: Mapping[str, Any]) -> str:
    """Model folder the coffea processor scores with: AA-VAE of the first seed when trained."""
    methods = list(config["methods"])
    method = "aa-vae" if "aa-vae" in methods else methods[0]
    return f"results/vh/models/{method}_seed{config['seeds'][0]}"
