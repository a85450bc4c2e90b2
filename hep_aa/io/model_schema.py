"""Validation of a model folder's ``model.json`` before anything is built from it.

A model folder (``model.safetensors`` + ``model.json``, see :func:`hep_aa.io.artifacts.save_model_folder`)
may come from anywhere. Its sidecar is checked here against a fixed schema — required keys and
their types, the class name against an allow-list, feature names, scaler arrays of the right
length with finite values, and every hyperparameter's type and range — so that a tampered or
corrupt file gives one :class:`~hep_aa.exceptions.ModelError` naming the file and the field
instead of a traceback, a hang (``n_estimators: 10000000`` makes loading an IsolationForest
refit ten million trees) or a giant allocation (``hidden: [1000000000]``).

Hyperparameters this module does not know (a newer hep_aa) are accepted when they are plain
JSON scalars or short lists of scalars; the detector ignores names its class does not take.
Nothing here imports or executes anything named in the file.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from hep_aa.exceptions import ModelError

__all__ = [
    "DETECTOR_CLASSES",
    "HYPERPARAMETERS",
    "MODEL_FORMAT",
    "MODEL_FORMAT_VERSION",
    "check_weight_shapes",
    "validate_model_meta",
]

MODEL_FORMAT = "hep_aa.detector"
#: 2: the folder is written as a unit and ``save_id`` ties model.json to its weights.
MODEL_FORMAT_VERSION = 2

#: Detector classes a model folder may name (an allow-list: names, never imported paths).
DETECTOR_CLASSES = (
    "AnomalyAwareVAE",
    "PlainVAE",
    "EpochMatchedVAE",
    "SyntheticAnomalyClassifier",
    "SupervisedClassifier",
    "IsolationForestDetector",
)

_BIG = 10**9

#: name -> (kind, low, high). Kinds: int, float, str, bool, widths (list of int), samples.
HYPERPARAMETERS: dict[str, tuple[str, float, float]] = {
    "hidden": ("widths", 1, 16_384),
    "latent_dim": ("int", 1, 4_096),
    "beta": ("float", 0.0, 1e6),
    "decoder": ("str", 0, 0),
    "architecture": ("str", 0, 0),
    "scaler": ("str", 0, 0),
    "batch_size": ("int", 1, 2**24),
    "learning_rate": ("float", 0.0, 10.0),
    "epochs": ("int", 0, 10**6),
    "patience": ("int", 0, 10**6),
    "validation_fraction": ("float", 0.0, 1.0),
    "finetune_epochs": ("int", 0, 10**6),
    "finetune_learning_rate": ("float", 0.0, 10.0),
    "lambda_max": ("float", 0.0, 1e6),
    "ramp": ("str", 0, 0),
    "ramp_epochs": ("int", 0, 10**6),
    "anomaly_error": ("str", 0, 0),
    "anomaly_term": ("str", 0, 0),
    "margin": ("float", 0.0, 1e6),
    "anomaly_weight": ("str", 0, 0),
    "finetune_select": ("str", 0, 0),
    "synthetic_ratio": ("float", 0.0, 1e4),
    "synthetic_enlarge": ("float", 0.0, 1e3),
    "synthetic_resample": ("bool", 0, 0),
    "divergence_tolerance": ("float", 0.0, 1e6),
    "mixed_precision": ("bool", 0, 0),
    "seed": ("int", 0, 2**63 - 1),
    "device": ("str", 0, 0),
    # IsolationForest: loading refits the forest, so its size bounds the load time
    "n_estimators": ("int", 1, 10_000),
    "max_samples": ("samples", 1, _BIG),
}

_MAX_FEATURES = 1_000_000
_MAX_STR = 200
_MAX_LIST = 64


def _fail(where: Path, field: str, problem: str) -> ModelError:
    return ModelError(f"{where}: field {field!r} {problem}; re-train the model or restore the original file")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_hyperparameter(where: Path, name: str, value: Any) -> None:
    field = f"hyperparameters.{name}"
    spec = HYPERPARAMETERS.get(name)
    if spec is None:  # unknown (newer hep_aa): plain scalars or short lists of them only
        items = value if isinstance(value, list) else [value]
        if len(items) > _MAX_LIST or not all(
            v is None
            or isinstance(v, bool)
            or (_is_number(v) and math.isfinite(v))
            or (isinstance(v, str) and len(v) <= _MAX_STR)
            for v in items
        ):
            raise _fail(where, field, "is not a plain value (number, text, true/false or a short list)")
        return
    kind, low, high = spec
    if kind == "int":
        if not _is_int(value) or not low <= value <= high:
            raise _fail(where, field, f"is {value!r}; expected an integer in [{low}, {high}]")
    elif kind == "float":
        if not _is_number(value) or not math.isfinite(value) or not low <= value <= high:
            raise _fail(where, field, f"is {value!r}; expected a finite number in [{low}, {high:g}]")
    elif kind == "str":
        if not isinstance(value, str) or not 0 < len(value) <= _MAX_STR:
            raise _fail(where, field, f"is {value!r}; expected a short text")
    elif kind == "bool":
        if not isinstance(value, bool):
            raise _fail(where, field, f"is {value!r}; expected true or false")
    elif kind == "widths":
        if (
            not isinstance(value, list)
            or not 1 <= len(value) <= 16
            or not all(_is_int(v) and low <= v <= high for v in value)
        ):
            raise _fail(where, field, f"is {value!r}; expected 1 to 16 layer widths in [{low}, {high}]")
    elif kind == "samples":  # IsolationForest max_samples: "auto", a count or a fraction
        ok = value == "auto" or (_is_int(value) and low <= value <= high)
        ok = ok or (isinstance(value, float) and 0.0 < value <= 1.0)
        if not ok:
            raise _fail(where, field, f'is {value!r}; expected "auto", a count >= 1 or a fraction in (0, 1]')


def _check_scaler(where: Path, scaler: Any, n_features: int) -> None:
    if not isinstance(scaler, dict) or not isinstance(scaler.get("kind"), str):
        raise _fail(where, "scaler", "is not an object with a text 'kind'")
    for key in ("center", "scale"):
        values = scaler.get(key)
        if values is None:
            continue
        if (
            not isinstance(values, list)
            or len(values) != n_features
            or not all(_is_number(v) and math.isfinite(v) for v in values)
        ):
            raise _fail(where, f"scaler.{key}", f"is not {n_features} finite numbers (one per feature)")
        if key == "scale" and not all(v > 0 for v in values):
            raise _fail(where, "scaler.scale", "has a value <= 0 (scales are positive)")
    if (scaler.get("center") is None) != (scaler.get("scale") is None):
        raise _fail(where, "scaler", "has only one of 'center' and 'scale'")


def validate_model_meta(
    meta: Any, where: str | Path, *, classes: Iterable[str] = DETECTOR_CLASSES
) -> dict[str, Any]:
    """Check a parsed ``model.json`` against the schema; return it unchanged when valid.

    Parameters
    ----------
    meta : object
        The parsed JSON.
    where : path
        The file, for messages.
    classes : iterable of str
        Allowed class names (the detector registry).

    Raises
    ------
    ModelError
        Naming the file and the field (``hyperparameters.n_estimators``, ``scaler.scale``, ...).
    """
    path = Path(where)
    if not isinstance(meta, dict):
        raise ModelError(f"{path}: is not a JSON object; re-train the model or restore the original file")
    if meta.get("format") != MODEL_FORMAT:
        raise _fail(path, "format", f"is {meta.get('format')!r}, not {MODEL_FORMAT!r} (not a hep_aa model)")
    version = meta.get("format_version")
    if version != MODEL_FORMAT_VERSION:
        raise ModelError(
            f"{path}: model format v{version!r}, this hep_aa reads v{MODEL_FORMAT_VERSION} "
            "(v2 writes the folder as a unit with a save id); re-train with this hep_aa version"
        )
    allowed = set(classes)
    klass = meta.get("class")
    if not isinstance(klass, str) or klass not in allowed:
        raise _fail(path, "class", f"is {klass!r}; allowed: {', '.join(sorted(allowed))}")
    save_id = meta.get("save_id")
    if not isinstance(save_id, str) or not 8 <= len(save_id) <= 64 or not save_id.isalnum():
        raise _fail(path, "save_id", "is missing or malformed")
    names = meta.get("feature_names")
    if (
        not isinstance(names, list)
        or not 1 <= len(names) <= _MAX_FEATURES
        or not all(isinstance(n, str) and 0 < len(n) <= _MAX_STR for n in names)
    ):
        raise _fail(path, "feature_names", "is not a non-empty list of feature names")
    if len(set(names)) != len(names):
        raise _fail(path, "feature_names", "names a feature twice")
    params = meta.get("hyperparameters")
    if not isinstance(params, dict):
        raise _fail(path, "hyperparameters", "is missing or not an object")
    for name, value in params.items():
        _check_hyperparameter(path, str(name), value)
    _check_scaler(path, meta.get("scaler"), len(names))
    for key in ("history", "provenance"):
        if key in meta and not isinstance(meta[key], dict):
            raise _fail(path, key, "is not an object")
    return meta


def check_weight_shapes(
    meta: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]], where: str | Path
) -> None:
    """Refuse hyperparameters that imply far more weights than the weights file holds.

    An MLP with input width ``n_features`` and layer widths ``hidden`` has at least
    ``n_features·h1 + h1·h2 + ...`` weights; if model.json asks for more than
    ``model.safetensors`` holds, it was tampered with (or the files do not belong together),
    and building the network could allocate gigabytes. Checked before anything is built.
    """
    n_elements = sum(math.prod(s) for s in shapes.values())
    params = meta.get("hyperparameters", {})
    n_features = len(meta["feature_names"])
    if meta.get("class") == "IsolationForestDetector":
        train = shapes.get("train")
        if train is None or len(train) != 2 or train[1] != n_features or train[0] < 1:
            raise ModelError(
                f"{where}: an IsolationForest model needs a 'train' array of shape (n, {n_features}), "
                f"got {train}; re-train the model"
            )
        samples = params.get("max_samples", "auto")
        if _is_int(samples) and samples > train[0]:
            raise ModelError(
                f"{where}: hyperparameters.max_samples {samples} exceeds the {train[0]} stored training "
                "events; re-train the model"
            )
        return
    hidden = params.get("hidden")
    if params.get("architecture", "mlp") != "mlp" or not isinstance(hidden, list) or not hidden:
        return
    widths = [n_features, *hidden]
    implied = sum(a * b for a, b in itertools.pairwise(widths))
    if implied > n_elements:
        raise ModelError(
            f"{where}: hyperparameters.hidden {hidden} with {n_features} features imply at "
            f"least {implied} weights but model.safetensors holds {n_elements}; the files do not belong "
            "together — re-train the model"
        )
