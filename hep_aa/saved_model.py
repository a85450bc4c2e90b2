"""The networks and scores of the torch detectors, without scikit-learn.

:mod:`hep_aa.detector` builds its estimators on scikit-learn's base classes, whose import
(scikit-learn, SciPy) costs more than the scoring of a small table. The pieces a saved torch
model needs to score — its network, its input scaling and the score itself — live here, and
the estimator classes call them too, so there is one implementation. :func:`load_scorer`
restores a saved model folder for scoring only (``hep-aa score`` uses it); models of other
classes (the IsolationForest) give ``None`` and are loaded with
:func:`hep_aa.detector.load_detector`.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hep_aa.exceptions import DataFormatError, ModelError
from hep_aa.io.artifacts import MODEL_WEIGHTS, load_model_folder
from hep_aa.models import MLPVAE, ConvVAE, MLPClassifier
from hep_aa.training.device import resolve_device
from hep_aa.training.loops import _evaluate
from hep_aa.training.scaling import Scaler

__all__ = [
    "CLASSIFIER_CLASSES",
    "VAE_CLASSES",
    "SavedScorer",
    "build_network",
    "load_scorer",
    "network_kind",
    "network_scores",
]

#: Saved-model classes whose network is a VAE (score: E(x) with z = μ).
VAE_CLASSES = frozenset({"AnomalyAwareVAE", "PlainVAE", "EpochMatchedVAE"})
#: Saved-model classes whose network is a classifier (score: the logit).
CLASSIFIER_CLASSES = frozenset({"SyntheticAnomalyClassifier", "SupervisedClassifier"})


#: What restoring tensors into a network raises on a shape or key mismatch.
RESTORE_ERRORS = (KeyError, RuntimeError, TypeError, ValueError)


def restore_error(folder: Path, exc: BaseException) -> ModelError:
    """The one-line error of a model folder whose weights do not fit its network."""
    reason = " ".join(str(exc).split())[:300]
    return ModelError(
        f"{folder / MODEL_WEIGHTS}: cannot restore the weights ({type(exc).__name__}: {reason}); re-train the model"
    )


def network_kind(class_name: str) -> str | None:
    """``"vae"`` or ``"classifier"`` for a saved torch detector class, else None."""
    return "vae" if class_name in VAE_CLASSES else "classifier" if class_name in CLASSIFIER_CLASSES else None


def build_network(kind: str, n_features: int, params: dict[str, Any]) -> torch.nn.Module:
    """The (untrained) network of a torch detector (``kind`` "vae" or "classifier") with
    hyperparameters ``params``."""
    if kind == "classifier":
        return MLPClassifier(n_features, tuple(params["hidden"]))
    architecture = params.get("architecture", "mlp")
    if architecture == "mlp":
        return MLPVAE(
            n_features, tuple(params["hidden"]), params["latent_dim"], params["beta"], params["decoder"]
        )
    if architecture == "conv":
        return ConvVAE(
            n_features, latent_dim=params["latent_dim"], beta=params["beta"], decoder=params["decoder"]
        )
    raise ModelError(f"architecture must be 'mlp' or 'conv', got {architecture!r}")


def network_scores(
    kind: str, module: torch.nn.Module, x: np.ndarray, device: torch.device, anomaly_error: str
) -> np.ndarray:
    """Scores (higher = more anomalous) of the scaled events ``x``: E(x) with z = μ for a VAE
    (``anomaly_error`` "reconstruction" or "elbo"), the logit for a classifier.

    Computed with a float64 copy of the network, so a score does not depend on how many events
    are scored together (float32 matrix products differ with the batch shape)."""
    net = copy.deepcopy(module).to(device=device, dtype=torch.float64).eval()
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64)).to(device)
    if kind == "classifier":
        with torch.no_grad():
            out = torch.cat([net(xt[i : i + 65536]) for i in range(0, len(xt), 65536)])
        return out.cpu().numpy().astype(np.float64)
    total, recon = _evaluate(net, xt)  # type: ignore[arg-type]
    return (recon if anomaly_error == "reconstruction" else total).astype(np.float64)


@dataclass
class SavedScorer:
    """A saved torch detector restored for scoring only (no scikit-learn)."""

    path: Path
    class_name: str
    hyperparameters: dict[str, Any]
    feature_names_in_: list[str]
    scaler_: Scaler
    module_: torch.nn.Module
    history_: dict[str, Any] = field(default_factory=dict)
    provenance_: dict[str, Any] = field(default_factory=dict)

    def decision_function(self, X: Any) -> np.ndarray:
        """Scores of ``X`` (n_events, n_features), as the detector's own ``decision_function``."""
        arr = np.asarray(X, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != len(self.feature_names_in_):
            raise DataFormatError(
                f"X has shape {arr.shape}, but the model in {self.path} expects "
                f"{len(self.feature_names_in_)} features ({', '.join(self.feature_names_in_)})"
            )
        device = resolve_device(self.hyperparameters.get("device", "auto"))
        return network_scores(
            network_kind(self.class_name),  # type: ignore[arg-type]
            self.module_,
            self.scaler_.transform(arr),
            device,
            self.hyperparameters.get("anomaly_error", "reconstruction"),
        )


def load_scorer(path: str | os.PathLike[str]) -> SavedScorer | None:
    """The saved model in ``path`` restored for scoring, or ``None`` when its class is not a
    torch detector (load it with :func:`hep_aa.detector.load_detector`). The folder is
    validated as :func:`hep_aa.detector.load_detector` validates it."""
    folder = Path(path)
    meta, arrays = load_model_folder(folder)
    name = meta["class"]
    kind = network_kind(name)
    if kind is None:
        return None
    params = dict(meta["hyperparameters"])
    names = list(meta["feature_names"])
    try:
        module = build_network(kind, len(names), params)
        module.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in arrays.items()})
    except RESTORE_ERRORS as exc:
        raise restore_error(folder, exc) from None
    module = module.to(resolve_device(params.get("device", "auto"))).eval()
    return SavedScorer(
        folder,
        name,
        params,
        names,
        Scaler.from_dict(meta["scaler"]),
        module,
        meta.get("history", {}),
        meta.get("provenance", {}),
    )
