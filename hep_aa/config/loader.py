"""Load, validate and default-fill the workflow configuration.

The dataclasses below carry no defaults on purpose: every default lives in ``schema.yaml``
so the CLI, the library and the Snakefile cannot disagree.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import importlib.resources
import math
import types
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import jsonschema
import yaml

from hep_aa.exceptions import ConfigError

__all__ = [
    "CiCidsConfig",
    "Config",
    "DatasetsConfig",
    "EvaluationConfig",
    "FeaturesConfig",
    "LhcoConfig",
    "MnistConfig",
    "ModelConfig",
    "PlotsConfig",
    "TrainingConfig",
    "VhConfig",
    "load_config",
    "load_schema",
    "merge_configs",
    "method_names",
    "validate_config",
]


@dataclasses.dataclass(frozen=True)
class SignalMasses:
    m_wprime: float
    m_x: float
    m_y: float


@dataclasses.dataclass(frozen=True)
class LhcoConfig:
    enabled: bool
    path: str | None
    n_background: int
    n_signal: int
    chunks: int
    signal_masses: SignalMasses
    unseen_masses: SignalMasses


@dataclasses.dataclass(frozen=True)
class VhConfig:
    enabled: bool
    path: str | None
    n_events: int
    n_anomaly: int
    chunks: int
    point: str | Mapping[str, float]
    unseen_point: str | Mapping[str, float]
    pthat_min: float | None
    anomaly_bias_pow: float | None
    anomaly_bias_ref: float
    unweight_quantile: float | None


@dataclasses.dataclass(frozen=True)
class MnistConfig:
    enabled: bool
    path: str | None
    known_anomaly_path: str | None
    protocol: Literal["paper", "one-vs-rest"]
    normal_class: int
    known_class: int
    known_kind: str
    n_per_kind: int


@dataclasses.dataclass(frozen=True)
class CiCidsConfig:
    enabled: bool
    path: str | None
    known_family: str


@dataclasses.dataclass(frozen=True)
class DatasetsConfig:
    lhco: LhcoConfig
    vh: VhConfig
    mnist: MnistConfig
    cicids: CiCidsConfig


@dataclasses.dataclass(frozen=True)
class FeaturesConfig:
    lhco_set: Literal["official", "community"]
    chunk_size: int
    events_per_job: int


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    hidden: tuple[int, ...]
    latent_dim: int
    beta: float
    decoder: Literal["gaussian", "bernoulli"]


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    device: str
    batch_size: int
    learning_rate: float
    epochs: int
    patience: int
    validation_fraction: float
    finetune_epochs: int
    finetune_learning_rate: float
    lambda_max: float
    ramp: Literal["linear", "cosine", "constant"]
    ramp_epochs: int
    anomaly_error: Literal["reconstruction", "elbo"]
    anomaly_term: Literal["linear", "hinge", "log"]
    margin: float
    synthetic_ratio: float
    synthetic_enlarge: float
    divergence_tolerance: float
    n_known_anomalies: int


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
    signal_efficiencies: tuple[float, ...]
    background_efficiencies: tuple[float, ...]
    bootstrap: int
    test_fraction: float
    sic_max_relative_error: float


@dataclasses.dataclass(frozen=True)
class PlotsConfig:
    formats: tuple[str, ...]
    label: str
    com_energy_tev: float


@dataclasses.dataclass(frozen=True)
class Config:
    """The whole validated configuration (see ``workflows/config.yaml`` for a commented copy)."""

    version: int
    seeds: tuple[int, ...]
    methods: tuple[str, ...]
    datasets: DatasetsConfig
    features: FeaturesConfig
    model: ModelConfig
    training: TrainingConfig
    evaluation: EvaluationConfig
    plots: PlotsConfig

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable dict (tuples become lists)."""
        return _to_plain(self)


@functools.cache
def _schema_text() -> str:
    return importlib.resources.files("hep_aa.config").joinpath("schema.yaml").read_text("utf-8")


def load_schema() -> dict[str, Any]:
    """Return a fresh copy of the packaged JSON Schema as a dict."""
    return yaml.safe_load(_schema_text())


def method_names() -> list[str]:
    """The detector methods the schema allows, in the schema's (presentation) order."""
    return list(load_schema()["properties"]["methods"]["items"]["enum"])


def _format_path(parts: Iterator[Any] | Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def _defaulting_validator() -> type[jsonschema.protocols.Validator]:
    base = jsonschema.Draft202012Validator
    validate_properties = base.VALIDATORS["properties"]

    def properties_with_defaults(validator, properties, instance, schema):  # type: ignore[no-untyped-def]
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(base, {"properties": properties_with_defaults})


def _check_finite(data: Any, source: str, parts: tuple[Any, ...] = ()) -> None:
    """Reject NaN and ±Inf anywhere (YAML ``.nan``/``.inf`` pass a JSON Schema ``number``)."""
    if isinstance(data, float) and not math.isfinite(data):
        raise ConfigError(
            f"{source}: {_format_path(parts)}: {data!r} is not a finite number; give a finite value"
        )
    if isinstance(data, Mapping):
        for key, value in data.items():
            _check_finite(value, source, (*parts, key))
    elif isinstance(data, list | tuple):
        for i, value in enumerate(data):
            _check_finite(value, source, (*parts, i))


def merge_configs(*configs: Mapping[str, Any]) -> dict[str, Any]:
    """Merge configuration mappings as Snakemake merges ``--configfile`` files.

    Later mappings win; nested mappings are merged key by key, every other value (lists
    included) is replaced. The inputs are not modified.
    """
    out: dict[str, Any] = {}
    for config in configs:
        out = _merge_two(out, config)
    return out


def _merge_two(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge_two(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def validate_config(data: Any, *, source: str = "<config>", semantics: bool = True) -> dict[str, Any]:
    """Validate ``data`` against the schema and return a default-filled deep copy.

    Every key is optional (a partial file is an override of the defaults), so the same
    check serves a complete configuration and a ``--configfile`` override.

    Parameters
    ----------
    data : mapping
        The parsed configuration.
    source : str
        Where the data came from (a file name), used in error messages.
    semantics : bool
        Also run the checks that relate several keys (signal masses, MNIST classes). Off
        when validating one override of several, whose merge is checked afterwards.

    Raises
    ------
    ConfigError
        On the first (most relevant) schema violation, naming the dotted JSON path, or on
        a NaN/Inf number.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{source}: the configuration must be a mapping at the top level, "
            f"got {type(data).__name__}; start from workflows/config.yaml"
        )
    _check_finite(data, source)
    instance = copy.deepcopy(dict(data))
    validator = _defaulting_validator()(load_schema())
    errors = list(validator.iter_errors(instance))
    if errors:
        err = jsonschema.exceptions.best_match(errors)
        parts = list(err.absolute_path)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            known = err.schema.get("properties", {})
            parts += sorted(k for k in err.instance if k not in known)[:1]
        path = _format_path(parts)
        if err.validator == "additionalProperties":
            hint = "remove it or check its spelling against workflows/config.yaml"
        elif err.validator == "required":
            hint = "add it (see workflows/config.yaml)"
        else:
            hint = "fix the value (allowed values are documented in workflows/config.yaml)"
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise ConfigError(f"{source}: {path}: {err.message}; {hint}{more}")
    if semantics:
        _check_semantics(instance, source)
    return instance


def _check_semantics(cfg: dict[str, Any], source: str) -> None:
    """Checks a JSON Schema cannot express."""
    for key in ("signal_masses", "unseen_masses"):
        m = cfg["datasets"]["lhco"][key]
        if m["m_x"] + m["m_y"] >= m["m_wprime"]:
            raise ConfigError(
                f"{source}: datasets.lhco.{key}: m_x + m_y = {m['m_x'] + m['m_y']:g} must be below m_wprime = {m['m_wprime']:g}"
            )
    mnist = cfg["datasets"]["mnist"]
    if mnist["protocol"] == "one-vs-rest" and mnist["normal_class"] == mnist["known_class"]:
        raise ConfigError(
            f"{source}: datasets.mnist.known_class: {mnist['known_class']} equals normal_class; "
            "choose a different digit as the known anomaly"
        )


def _to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {k: _to_plain(v) for k, v in obj.items()}
    if isinstance(obj, tuple | list):
        return [_to_plain(v) for v in obj]
    return obj


def _build(cls: type, data: Mapping[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        value = data[field.name]
        hint = hints[field.name]
        if dataclasses.is_dataclass(hint):
            value = _build(hint, value)
        elif isinstance(value, list):
            value = tuple(value)
        elif isinstance(value, dict):
            value = types.MappingProxyType(dict(value))
        kwargs[field.name] = value
    return cls(**kwargs)


def _read(source: str | Path | Mapping[str, Any]) -> tuple[Any, str]:
    if isinstance(source, Mapping):
        return dict(source), "<config>"
    path = Path(source)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{name}: file not found; pass an existing YAML config") from None
    except IsADirectoryError:
        raise ConfigError(f"{name}: is a directory; pass a YAML config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{name}: cannot be read ({exc}); pass a UTF-8 YAML file") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{name}: invalid YAML{where}: {problem}") from None
    return data, name


def load_config(*sources: str | Path | Mapping[str, Any]) -> Config:
    """Load configuration files (or mappings), merge them, validate and fill the defaults.

    Every source is an override of the schema defaults: keys left out (``version``
    included) take their default. With several sources, later ones win key by key, as
    Snakemake merges ``--configfile`` files (see :func:`merge_configs`).

    Parameters
    ----------
    *sources : str, Path or mapping
        Paths of YAML files, or already parsed mappings; at least one.

    Returns
    -------
    Config
        Frozen dataclasses; sequences are tuples.

    Raises
    ------
    ConfigError
        If a file is missing or is not valid YAML, or a source violates the schema (the
        message names that source and the key), or the merged configuration is
        inconsistent (for example signal masses that cannot decay).
    """
    if not sources:
        raise TypeError("load_config() needs at least one file or mapping")
    datas, names = [], []
    for source in sources:
        data, name = _read(source)
        validate_config(data, source=name, semantics=len(sources) == 1)
        datas.append(data)
        names.append(name)
    if len(sources) == 1:
        filled = validate_config(datas[0], source=names[0])
    else:
        filled = validate_config(merge_configs(*datas), source=" + ".join(names))
    return _build(Config, filled)
