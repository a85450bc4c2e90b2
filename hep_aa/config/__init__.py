"""Workflow configuration: a versioned JSON Schema and a loader returning frozen dataclasses.

The schema (``schema.yaml`` in this package) is the single source of the configuration's
structure and defaults. :func:`load_config` validates one or several YAML files or mappings
against it (each an override of the defaults, later ones winning as with Snakemake's
``--configfile``), fills the defaults and returns a :class:`Config`. Invalid input raises
:class:`~hep_aa.exceptions.ConfigError` naming the file, the JSON path and the offending value.

Examples
--------
>>> from hep_aa.config import load_config
>>> cfg = load_config({"training": {"epochs": 5}})
>>> cfg.training.epochs, cfg.training.batch_size
(5, 256)
>>> load_config({"seeds": [0, 1]}, {"seeds": [7]}).seeds
(7,)
"""

from __future__ import annotations

from hep_aa.config.loader import (
    CiCidsConfig,
    Config,
    DatasetsConfig,
    EvaluationConfig,
    FeaturesConfig,
    LhcoConfig,
    MnistConfig,
    ModelConfig,
    PlotsConfig,
    TrainingConfig,
    VhConfig,
    load_config,
    load_schema,
    merge_configs,
    method_names,
    validate_config,
)

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
