"""scikit-learn-style anomaly detectors: Anomaly Awareness VAE and its baselines.

All detectors share one contract:

- ``__init__`` stores hyperparameters only (``get_params``/``set_params``/``clone`` work);
- ``fit(X, y=None)`` with ``y`` in the DeepOD convention: 1 = known (labelled) anomaly,
  0 = unlabelled/normal. The scaler is fitted on the ``y == 0`` rows only;
- ``decision_function(X)`` → shape (n_events,), deterministic. **Sign convention: higher =
  more anomalous**, everywhere in hep_aa (as in PyOD). ``score_samples(X)`` is its negative
  (scikit-learn's "higher = more normal");
- PyOD's contract: ``contamination`` (expected anomalous fraction, default 0.1); after fit
  ``decision_scores_`` (training scores), ``threshold_`` (their ``1 − contamination``
  quantile, sample-weighted) and ``labels_``; ``predict(X)`` → 0 (inlier) / 1 (outlier, score
  > ``threshold_``); ``predict_proba(X, method="linear"|"unify")`` → (n_events, 2);
  ``fit_predict(X)`` → ``labels_``. A saved model keeps ``threshold_`` and the training-score
  summary used by ``predict_proba`` (not the full ``decision_scores_``);
- ``fit(X, y=None, sample_weight=None)``: per-event weights (negative allowed, e.g. NLO
  generator weights) enter the training losses as a weighted mean of per-event losses (the
  IsolationForest: scikit-learn's weighted subsampling, non-negative weights only) and the
  threshold quantile; the scaler stays unweighted;
- a detector used before ``fit`` raises :class:`NotFittedDetectorError` — both a
  :class:`~hep_aa.exceptions.ModelError` and scikit-learn's ``NotFittedError``;
- ``save(directory)`` writes ``model.safetensors`` (weights) and ``model.json`` (class,
  hyperparameters, feature names, scaler, training history, hep_aa version); the class method
  ``load(directory)`` restores it without unpickling anything.

Detectors: :class:`AnomalyAwareVAE` (the method; ``synthetic_ratio > 0`` adds uniform
synthetic anomalies to the anomaly side), :class:`PlainVAE` (stage 1 only),
:class:`SyntheticAnomalyClassifier` (arXiv:2506.13955), :class:`SupervisedClassifier` (the
ceiling on the known anomaly) and :class:`IsolationForestDetector`.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.exceptions import NotFittedError

from hep_aa._version import __version__
from hep_aa.exceptions import DataFormatError, ModelError
from hep_aa.io.artifacts import MODEL_SIDECAR, MODEL_WEIGHTS, load_model_folder, save_model_folder
from hep_aa.io.model_schema import MODEL_FORMAT, MODEL_FORMAT_VERSION
from hep_aa.saved_model import RESTORE_ERRORS, build_network, network_scores, restore_error
from hep_aa.training import (
    Scaler,
    finetune,
    pretrain,
    resolve_device,
    synthetic_box,
    train_classifier,
    uniform_synthetic,
)

if TYPE_CHECKING:
    from hep_aa.config import Config

__all__ = [
    "METHODS",
    "AnomalyAwareVAE",
    "EpochMatchedVAE",
    "IsolationForestDetector",
    "NotFittedDetectorError",
    "PlainVAE",
    "SupervisedClassifier",
    "SyntheticAnomalyClassifier",
    "load_detector",
    "make_detector",
    "shared_stage1",
]

log = logging.getLogger(__name__)

WEIGHTS = MODEL_WEIGHTS
SIDECAR = MODEL_SIDECAR
FORMAT = MODEL_FORMAT
FORMAT_VERSION = MODEL_FORMAT_VERSION


def _as_2d(X: Any, name: str = "X") -> tuple[np.ndarray, list[str] | None]:
    from sklearn.utils import check_array

    columns = [str(c) for c in X.columns] if hasattr(X, "columns") else None
    try:  # scikit-learn's checks: sparse, complex, object dtype, 1D, empty
        arr = check_array(X, dtype=np.float64, ensure_all_finite=False, input_name=name)
    except TypeError as exc:
        raise InputTypeError(f"{name}: {exc}") from None
    except ValueError as exc:
        raise DataFormatError(f"{name}: {exc}") from None
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataFormatError(
            f"{name} must be a non-empty 2D array (n_events, n_features), got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        cols = np.where(~np.all(np.isfinite(arr), axis=0))[0].tolist()
        where = [columns[c] for c in cols] if columns else cols
        raise DataFormatError(
            f"{name} contains NaN/Inf in feature column(s) {where}; clean or drop those events"
        )
    return arr, columns


def _weights_of(sw: np.ndarray | None, y: Any, known: bool) -> np.ndarray | None:
    """The weights of the unlabelled (``known=False``) or known-anomaly rows, as _split_y splits X."""
    if sw is None:
        return None
    if y is None:
        return sw if not known else sw[:0]
    is_known = np.asarray(y).ravel() == 1
    return sw[is_known] if known else sw[~is_known]


def _split_with(
    split: Any, x: np.ndarray, w: np.ndarray | None, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``split`` of events and their weights with one permutation (weights ride as a column)."""
    if w is None:
        tr, val = split(x, fraction, rng)
        return tr, val, None, None
    tr, val = split(np.column_stack([x, w]), fraction, rng)
    return tr[:, :-1], val[:, :-1], tr[:, -1], val[:, -1]


class InputTypeError(DataFormatError, TypeError):
    """X holds values that are not numbers (objects, strings)."""


class NotFittedDetectorError(ModelError, NotFittedError):
    """A detector used before ``fit`` (or ``load``): hep_aa's ModelError and sklearn's NotFittedError."""


def _weighted_quantile(values: np.ndarray, q: float, weights: np.ndarray | None) -> float:
    """Quantile ``q`` of ``values``; with ``weights``, of their weighted distribution.

    Negative weights are clipped to 0 here (a quantile needs a non-negative measure); without
    any positive weight the unweighted quantile is returned.
    """
    if weights is None or not np.any(weights > 0):
        return float(np.quantile(values, q))
    order = np.argsort(values, kind="stable")
    v, w = values[order], np.clip(weights[order], 0.0, None)
    cdf = np.cumsum(w) / np.sum(w)
    return float(v[min(int(np.searchsorted(cdf, q, side="left")), len(v) - 1)])


def _split_y(X: np.ndarray, y: Any) -> tuple[np.ndarray, np.ndarray]:
    if y is None:
        return X, X[:0]
    y = np.asarray(y).ravel()
    if y.shape[0] != X.shape[0]:
        raise DataFormatError(f"y has {y.shape[0]} entries but X has {X.shape[0]} rows")
    if y.dtype.kind not in "biuf" or not np.all(np.isfinite(y.astype(np.float64))):
        raise DataFormatError(
            f"Unknown label type {y.dtype}: y must be numeric and finite (1 = known anomaly, 0 = unlabelled/normal)"
        )
    # DeepOD's semi-supervised convention: y == 1 marks known anomalies, every other value
    # is unlabelled (scikit-learn's estimator checks pass arbitrary binary labels such as 1/2)
    known = y == 1
    return X[~known], X[known]


class _Detector(OutlierMixin, BaseEstimator):
    """Scaler, feature bookkeeping, the PyOD/scikit-learn contract, save/load of every detector."""

    _registry: ClassVar[dict[str, type[_Detector]]] = {}
    contamination: float = 0.1

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import ClassifierTags

        tags = super().__sklearn_tags__()
        # y is binary (DeepOD: 1 = known anomaly, 0 = unlabelled/normal): the estimator
        # checks then pass 0/1 labels. The type stays "outlier_detector".
        tags.classifier_tags = ClassifierTags(multi_class=False)
        tags.target_tags.required = False
        return tags

    def __getattr__(self, name: str) -> Any:
        # a loaded model keeps the threshold and score summary in history_["training_scores"]
        if name == "threshold_" and "history_" in self.__dict__:
            summary = self.__dict__["history_"].get("training_scores")
            if summary is not None:
                return float(summary["threshold"])
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # -- PyOD / scikit-learn contract ----------------------------------------------------
    def _fit_weights(self, sample_weight: Any, n: int) -> np.ndarray | None:
        """Validated per-event weights (None = unweighted); negative values allowed."""
        contamination = self.contamination
        if not (isinstance(contamination, (int, float)) and 0.0 < contamination <= 0.5):
            raise DataFormatError(f"contamination must be in (0, 0.5], got {contamination!r}")
        if sample_weight is None:
            return None
        sw = np.asarray(sample_weight, dtype=np.float64)
        if sw.ndim != 1 or sw.shape[0] != n:
            raise DataFormatError(
                f"sample_weight.shape == {sw.shape}, expected ({n},): one weight per event of X"
            )
        if not np.all(np.isfinite(sw)):
            raise DataFormatError("sample_weight contains NaN/Inf; fix or drop those events")
        if not np.any(sw != 0):
            raise DataFormatError("sample_weight: every weight is zero; nothing to fit")
        if not np.sum(sw) > 0:
            raise DataFormatError(
                f"sample_weight sums to {np.sum(sw):.6g}; the weights must have a positive sum"
            )
        return sw

    def _set_threshold(self, X: np.ndarray, sample_weight: np.ndarray | None) -> None:
        """PyOD's ``decision_scores_``, ``threshold_`` and ``labels_`` on the training events."""
        scores = self.decision_function(X)
        self.decision_scores_ = scores
        self.threshold_ = _weighted_quantile(scores, 1.0 - self.contamination, sample_weight)
        self.labels_ = (scores > self.threshold_).astype(int)
        self.history_["training_scores"] = {
            "threshold": self.threshold_,
            "contamination": float(self.contamination),
            "min": float(scores.min()),
            "max": float(scores.max()),
            "mean": float(scores.mean()),
            "std": float(scores.std()),
            "quantiles": np.quantile(scores, np.linspace(0.0, 1.0, 201)).tolist(),
        }

    def predict(self, X: Any) -> np.ndarray:
        """0 = inlier, 1 = outlier (score above ``threshold_``), shape (n_events,) (PyOD)."""
        self._check_fitted()
        return (self.decision_function(X) > self.threshold_).astype(int)

    def predict_proba(self, X: Any, method: str = "linear") -> np.ndarray:
        """Outlier probability from the training-score range, shape (n_events, 2) (PyOD).

        ``method="linear"``: min–max scaling of the score by the training scores, clipped to
        [0, 1]; ``"unify"``: erf of the standardised score, clipped at 0 (Kriegel et al. 2011).
        Column 1 is the outlier probability.
        """
        from scipy.special import erf

        self._check_fitted()
        stats = self.history_["training_scores"]
        s = self.decision_function(X)
        if method == "linear":
            span = stats["max"] - stats["min"]
            p = (s - stats["min"]) / span if span > 0 else np.zeros_like(s)
        elif method == "unify":
            std = stats["std"] if stats["std"] > 0 else 1.0
            p = erf((s - stats["mean"]) / (std * np.sqrt(2.0)))
        else:
            raise DataFormatError(f"predict_proba method must be 'linear' or 'unify', got {method!r}")
        p = np.clip(p, 0.0, 1.0)
        return np.column_stack([1.0 - p, p])

    def fit_predict(self, X: Any, y: Any = None, sample_weight: Any = None, **kwargs: Any) -> np.ndarray:
        """``fit(X, y, sample_weight)`` then the training labels ``labels_`` (0/1)."""
        return self.fit(X, y, sample_weight=sample_weight, **kwargs).labels_

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _Detector._registry[cls.__name__] = cls

    # -- helpers -------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if "scaler_" not in self.__dict__:
            raise NotFittedDetectorError(
                f"this {type(self).__name__} is not fitted yet; call fit(X) or load a saved model"
            )

    def _prepare_fit(self, X: Any, feature_names: list[str] | None) -> np.ndarray:
        arr, columns = _as_2d(X)
        if arr.shape[0] < 2:
            raise DataFormatError(f"X has n_samples = {arr.shape[0]}; fitting needs at least 2 events")
        names = feature_names or columns or [f"x{i}" for i in range(arr.shape[1])]
        if len(names) != arr.shape[1]:
            raise DataFormatError(f"{len(names)} feature names given for {arr.shape[1]} columns")
        self.feature_names_in_ = list(names)
        self.n_features_in_ = arr.shape[1]
        return arr

    def _transform(self, X: Any) -> np.ndarray:
        self._check_fitted()
        arr, _ = _as_2d(X)
        if arr.shape[1] != self.n_features_in_:
            raise DataFormatError(
                f"X has {arr.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input (trained on {self.n_features_in_}: "
                f"{', '.join(self.feature_names_in_)}); "
                "use the same feature set"
            )
        return self.scaler_.transform(arr)

    def score_samples(self, X: Any) -> np.ndarray:
        """Opposite of :meth:`decision_function` (higher = more normal), as in scikit-learn."""
        return -self.decision_function(X)

    def decision_function(self, X: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- persistence ---------------------------------------------------------------------
    def _arrays(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def save(self, path: str | os.PathLike[str], *, provenance: dict[str, Any] | None = None) -> Path:
        """Write ``model.safetensors`` and ``model.json`` into the folder ``path``, as a unit.

        The folder is written beside ``path`` and renamed into place
        (:func:`hep_aa.io.artifacts.save_model_folder`): an interrupted save leaves the previous
        model whole, and both files carry the same save id. ``provenance`` (JSON-serialisable:
        input files, method, event counts) is stored in the sidecar as is.
        """
        self._check_fitted()
        params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.get_params().items()}
        return save_model_folder(
            path,
            self._arrays(),
            {
                "hep_aa_version": __version__,
                "class": type(self).__name__,
                "hyperparameters": params,
                "feature_names": self.feature_names_in_,
                "scaler": self.scaler_.to_dict(),
                "history": getattr(self, "history_", {}),
                "provenance": provenance or {},
            },
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Any:
        """Load a detector saved with :meth:`save`; the class must match (or be a subclass).

        ``model.json`` is validated against the schema (class from the registry, types,
        shapes, limits) and tied to its weights by the save id before anything is built;
        nothing is unpickled or imported (:func:`hep_aa.io.artifacts.load_model_folder`).
        """
        folder = Path(path)
        meta, arrays = load_model_folder(folder, classes=_Detector._registry)
        klass = _Detector._registry[meta["class"]]
        if not issubclass(klass, cls):
            raise ModelError(f"{folder}: holds a {meta.get('class')!r}, not a {cls.__name__}")
        params = {
            k: (tuple(v) if isinstance(v, list) else v)
            for k, v in meta["hyperparameters"].items()
            if k in klass._get_param_names()
        }
        try:
            obj = klass(**params)
            obj.feature_names_in_ = list(meta["feature_names"])
            obj.n_features_in_ = len(obj.feature_names_in_)
            obj.scaler_ = Scaler.from_dict(meta["scaler"])
            obj.history_ = meta.get("history", {})
            obj.provenance_ = meta.get("provenance", {})
            obj._restore(arrays)
        except ModelError:
            raise
        except RESTORE_ERRORS as exc:  # torch: shape/key mismatch
            raise restore_error(folder, exc) from None
        return obj


class _TorchDetector(_Detector):
    """Device handling and tensor conversion for the torch-based detectors."""

    module_: torch.nn.Module

    def _device(self) -> torch.device:
        return resolve_device(getattr(self, "device", "auto"))

    def _tensor(self, x: np.ndarray, device: torch.device) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        if device.type == "cuda":
            return t.pin_memory().to(device, non_blocking=True)
        return t

    def _split(
        self, x: np.ndarray, fraction: float, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        n_val = max(1, round(fraction * len(x)))
        if len(x) - n_val < 1:
            raise DataFormatError(
                f"need at least 2 background events to split off a validation set, got {len(x)}"
            )
        perm = rng.permutation(len(x))
        return x[perm[n_val:]], x[perm[:n_val]]

    def _start_fit(
        self, X: Any, y: Any, sample_weight: Any, feature_names: list[str] | None, what: str
    ) -> tuple[Any, ...]:
        """Shared start of the torch fits: features, weights, the ``y != 1`` rows scaled and
        split into training and validation (with their weights), the known anomalies and the
        seeded generator the split used (``arr, sw, x_anom, rng, train, val, w_tr, w_val``)."""
        arr = self._prepare_fit(X, feature_names)
        sw = self._fit_weights(sample_weight, len(arr))
        x_main, x_anom = _split_y(arr, y)
        if len(x_main) < 2:
            raise DataFormatError(f"need at least 2 {what} (y != 1) events, got {len(x_main)} sample(s)")
        self.scaler_ = Scaler(self.scaler).fit(x_main)  # type: ignore[arg-type]
        rng = np.random.default_rng(self.seed)
        train, val, w_tr, w_val = _split_with(
            self._split,
            self.scaler_.transform(x_main),
            _weights_of(sw, y, known=False),
            self.validation_fraction,
            rng,
        )
        return arr, sw, x_anom, rng, train, val, w_tr, w_val

    def _build_module(self) -> torch.nn.Module:
        raise NotImplementedError

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_generator", None)  # torch.Generator does not pickle; only fit/fine_tune use it
        return state

    def _init_module(self) -> torch.nn.Module:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            return self._build_module()

    def _arrays(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy() for k, v in self.module_.state_dict().items()}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        module = self._build_module()
        module.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in arrays.items()})
        self.module_ = module.to(self._device()).eval()


#: Stage-1 results shared by the VAE detectors fitted inside :func:`shared_stage1` (None: off).
_STAGE1_CACHE: dict[str, tuple[dict[str, torch.Tensor], dict[str, Any], torch.Tensor]] | None = None

#: Hyperparameters that determine stage 1 (background pretraining) of the VAE detectors.
_STAGE1_PARAMS = (
    "hidden",
    "latent_dim",
    "beta",
    "decoder",
    "architecture",
    "scaler",
    "batch_size",
    "learning_rate",
    "epochs",
    "patience",
    "validation_fraction",
    "mixed_precision",
    "seed",
)


def _stage1_key(det: Any, device: torch.device, *arrays: np.ndarray | None) -> str:
    """Fingerprint of a stage-1 fit: its hyperparameters, device, torch threads and data."""
    import hashlib

    h = hashlib.sha256()
    h.update(repr([(p, getattr(det, p)) for p in _STAGE1_PARAMS]).encode())
    h.update(f"{device}|{torch.get_num_threads()}|{det.n_features_in_}".encode())
    for a in arrays:
        h.update(b"none" if a is None else np.ascontiguousarray(a).tobytes() + str(a.shape).encode())
    return h.hexdigest()


@contextlib.contextmanager
def shared_stage1() -> Iterator[None]:
    """Within this context the VAE detectors (``vae``, ``vae-matched``, ``aa-vae``,
    ``aa-vae-synth``) fitted with the same stage-1 hyperparameters, seed and data pretrain once:
    the later fits start from a copy of the first one's stage-1 state (weights, history and
    random-generator state), so every model is bit-identical to a fit of its own.
    ``hep-aa train`` uses it when one call trains several methods."""
    global _STAGE1_CACHE
    outer = _STAGE1_CACHE
    _STAGE1_CACHE = {} if outer is None else outer
    try:
        yield
    finally:
        _STAGE1_CACHE = outer


class AnomalyAwareVAE(_TorchDetector):
    """Variational autoencoder with Anomaly Awareness fine-tuning (arXiv:2504.11520).

    Stage 1 trains on background (``y == 0``) with early stopping on a background-only
    validation split. If ``y`` marks known anomalies, stage 2 fine-tunes with loss
    ``L_VAE(x)`` on background and ``L_VAE(x) − λ_AA·E(x)`` on anomalies, λ_AA ramped to
    ``lambda_max``. The score is E(x) with z = μ (deterministic).

    Parameters
    ----------
    hidden : tuple of int
        Encoder widths (MLP); the decoder mirrors them.
    latent_dim : int
    beta : float
        KL weight.
    decoder : {"gaussian", "bernoulli"}
    architecture : {"mlp", "conv"}
        ``conv`` for square images given as flat rows (see :class:`~hep_aa.models.ConvVAE`).
    scaler : {"standard", "robust", "log-robust", "minmax", "none"}
        Fitted on background only; use ``"none"`` for images already in [0, 1].
    batch_size, learning_rate, epochs, patience, validation_fraction
        Stage 1.
    finetune_epochs, finetune_learning_rate, lambda_max, ramp, ramp_epochs
        Stage 2 and the λ_AA schedule.
    anomaly_error : {"reconstruction", "elbo"}
        E(x), used both in the anomaly term and as the anomaly score.
    anomaly_term : {"linear", "hinge", "log"}
        The paper's linear term or a bounded extension; ``margin`` is the hinge's m in units
        of the median background E(x) after pretraining.
    synthetic_ratio, synthetic_enlarge
        Uniform synthetic anomalies per known anomaly, drawn each epoch in the min–max box of
        the scaled background enlarged by ``synthetic_enlarge`` per side (extension).
    divergence_tolerance : float
        Stage 2 stops and restores the last good state if the background validation loss
        rises by more than this fraction (or becomes NaN).
    mixed_precision : bool
        bfloat16 autocast on CUDA.
    seed : int
        Seeds initialisation, splits, shuffling and latent noise: same seed on CPU → same scores.
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    """

    _fine_tunes: ClassVar[bool] = True

    def __init__(
        self,
        *,
        hidden: tuple[int, ...] = (64, 32),
        latent_dim: int = 4,
        beta: float = 1.0,
        decoder: str = "gaussian",
        architecture: str = "mlp",
        scaler: str = "standard",
        batch_size: int = 256,
        learning_rate: float = 1e-3,
        epochs: int = 100,
        patience: int = 10,
        validation_fraction: float = 0.2,
        finetune_epochs: int = 30,
        finetune_learning_rate: float = 5e-4,
        lambda_max: float = 1.25,
        ramp: str = "linear",
        ramp_epochs: int = 10,
        anomaly_error: str = "reconstruction",
        anomaly_term: str = "hinge",
        margin: float = 8.0,
        anomaly_weight: str = "balanced",
        synthetic_ratio: float = 0.0,
        synthetic_enlarge: float = 0.0,
        divergence_tolerance: float = 0.5,
        finetune_select: str = "last",
        mixed_precision: bool = False,
        seed: int = 0,
        device: str = "auto",
        contamination: float = 0.1,
    ) -> None:
        self.hidden = hidden
        self.latent_dim = latent_dim
        self.beta = beta
        self.decoder = decoder
        self.architecture = architecture
        self.scaler = scaler
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.finetune_epochs = finetune_epochs
        self.finetune_learning_rate = finetune_learning_rate
        self.lambda_max = lambda_max
        self.ramp = ramp
        self.ramp_epochs = ramp_epochs
        self.anomaly_error = anomaly_error
        self.anomaly_term = anomaly_term
        self.margin = margin
        self.anomaly_weight = anomaly_weight
        self.synthetic_ratio = synthetic_ratio
        self.synthetic_enlarge = synthetic_enlarge
        self.divergence_tolerance = divergence_tolerance
        self.finetune_select = finetune_select
        self.mixed_precision = mixed_precision
        self.seed = seed
        self.device = device
        self.contamination = contamination

    def _build_module(self) -> torch.nn.Module:
        return build_network("vae", self.n_features_in_, self.get_params())

    def fit(
        self, X: Any, y: Any = None, sample_weight: Any = None, *, feature_names: list[str] | None = None
    ) -> AnomalyAwareVAE:
        """Stage 1 on ``y == 0`` rows, then (AA-VAE only) stage 2 with the ``y == 1`` rows.

        Parameters
        ----------
        X : array_like of shape (n_events, n_features)
        y : array_like of shape (n_events,), optional
            1 = known anomaly, 0 = background (DeepOD convention); None = all background.
        feature_names : list of str, optional
            Stored with the model (taken from ``X.columns`` for a DataFrame).
        """
        arr, sw, x_anom, _, train, val, w_tr, w_val = self._start_fit(
            X, y, sample_weight, feature_names, "background"
        )
        device = self._device()
        self._fit_weights_tv = (w_tr, w_val)  # for the fine-tune of this fit
        self._generator = torch.Generator().manual_seed(self.seed)
        self.module_ = self._init_module().to(device)
        key = _stage1_key(self, device, train, val, w_tr, w_val) if _STAGE1_CACHE is not None else None
        if key is not None and key in _STAGE1_CACHE:  # type: ignore[operator]
            state, history, generator_state = _STAGE1_CACHE[key]  # type: ignore[index]
            self.module_.load_state_dict(state)
            self._generator.set_state(generator_state.clone())
            self.history_ = {"pretrain": copy.deepcopy(history)}
        else:
            self.history_ = {
                "pretrain": pretrain(
                    self.module_,  # type: ignore[arg-type]
                    self._tensor(train, device),
                    self._tensor(val, device),
                    epochs=self.epochs,
                    batch_size=self.batch_size,
                    learning_rate=self.learning_rate,
                    patience=self.patience,
                    generator=self._generator,
                    mixed_precision=self.mixed_precision,
                    weights=None if w_tr is None else self._tensor(w_tr, device),
                    val_weights=None if w_val is None else self._tensor(w_val, device),
                )
            }
            if key is not None:
                _STAGE1_CACHE[key] = (  # type: ignore[index]
                    {k: v.detach().clone() for k, v in self.module_.state_dict().items()},
                    copy.deepcopy(self.history_["pretrain"]),
                    self._generator.get_state(),
                )
        if self._fine_tunes and len(x_anom):
            self._finetune(train, val, self.scaler_.transform(x_anom))
        else:
            self._after_pretrain(train, val)
        self.module_.eval()
        del self._fit_weights_tv
        self._set_threshold(arr, sw)
        return self

    def _after_pretrain(self, train: np.ndarray, val: np.ndarray) -> None:
        """Hook after stage 1 when there is no Anomaly Awareness stage (nothing by default)."""

    def fine_tune(self, X_bkg: Any, X_anom: Any) -> AnomalyAwareVAE:
        """Stage 2 only, on a fitted (pretrained) model; the scaler is kept.

        Parameters
        ----------
        X_bkg : array_like of shape (n_bkg, n_features)
            Background (split again into training and validation with ``seed``).
        X_anom : array_like of shape (n_anomalies, n_features)
            Known anomalies.
        """
        x_bkg = self._transform(X_bkg)
        x_anom = self._transform(X_anom)
        train, val = self._split(x_bkg, self.validation_fraction, np.random.default_rng(self.seed + 1))
        if not hasattr(self, "_generator"):
            self._generator = torch.Generator().manual_seed(self.seed + 1)
        self._finetune(train, val, x_anom)
        self.module_.eval()
        return self

    def _finetune(self, train: np.ndarray, val: np.ndarray, anom: np.ndarray) -> None:
        device = self._device()
        synth, n_synth = None, 0
        if self.synthetic_ratio > 0:
            low, high = synthetic_box(train, self.synthetic_enlarge)
            if self.decoder == "bernoulli":  # Bernoulli targets must stay in [0, 1]
                low, high = np.clip(low, 0.0, 1.0), np.clip(high, 0.0, 1.0)
            n_synth = max(1, round(self.synthetic_ratio * len(anom)))

            def synth(n: int) -> torch.Tensor:
                return uniform_synthetic(n, low, high, generator=self._generator, device=device)

        self.history_["finetune"] = finetune(
            self.module_,  # type: ignore[arg-type]
            self._tensor(train, device),
            self._tensor(anom, device),
            self._tensor(val, device),
            epochs=self.finetune_epochs,
            batch_size=self.batch_size,
            learning_rate=self.finetune_learning_rate,
            lambda_max=self.lambda_max,
            ramp=self.ramp,  # type: ignore[arg-type]
            ramp_epochs=self.ramp_epochs,
            anomaly_error=self.anomaly_error,  # type: ignore[arg-type]
            anomaly_term=self.anomaly_term,  # type: ignore[arg-type]
            margin=self.margin,
            anomaly_weight=self.anomaly_weight,  # type: ignore[arg-type]
            synthetic=synth,
            n_synthetic=n_synth,
            divergence_tolerance=self.divergence_tolerance,
            select=self.finetune_select,  # type: ignore[arg-type]
            generator=self._generator,
            mixed_precision=self.mixed_precision,
            **self._finetune_weights(device),
        )

    def _finetune_weights(self, device: torch.device) -> dict[str, torch.Tensor | None]:
        w_tr, w_val = getattr(self, "_fit_weights_tv", (None, None))
        return {
            "weights": None if w_tr is None else self._tensor(w_tr, device),
            "val_weights": None if w_val is None else self._tensor(w_val, device),
        }

    def decision_function(self, X: Any) -> np.ndarray:
        """Anomaly score E(x) with z = μ, shape (n_events,); higher = more anomalous."""
        x = self._transform(X)  # checks that the model is fitted
        return network_scores("vae", self.module_, x, self._device(), self.anomaly_error)

    def encode(self, X: Any) -> np.ndarray:
        """Posterior means μ, shape (n_events, latent_dim) (for latent-space plots)."""
        x = self._tensor(self._transform(X), self._device())
        with torch.no_grad():
            mu, _ = self.module_.encode(x)  # type: ignore[operator]
        return mu.float().cpu().numpy()


class PlainVAE(AnomalyAwareVAE):
    """Plain VAE baseline: stage 1 only; rows labelled as anomalies (``y == 1``) are ignored."""

    _fine_tunes: ClassVar[bool] = False


class EpochMatchedVAE(AnomalyAwareVAE):
    """Epoch-matched control of :class:`AnomalyAwareVAE`: the same pretraining, then the
    fine-tune loop for ``finetune_epochs`` with the same learning rate and seeds on background
    only (labelled anomalies are ignored). AA minus this control is the effect of the anomaly
    term alone, at the same training budget."""

    _fine_tunes: ClassVar[bool] = False

    def _after_pretrain(self, train: np.ndarray, val: np.ndarray) -> None:
        self._finetune(train, val, train[:0])


class SyntheticAnomalyClassifier(_TorchDetector):
    """Normal vs (known ∪ uniform synthetic) anomalies classifier, arXiv:2506.13955.

    As in the authors' code (Lau et al., ``combine_real_synthetic``): the synthetic sample is
    tied to the training data, ``n' = synthetic_ratio × (n_normal + n_known)`` points drawn
    uniformly in the min–max box of the scaled normal training data (enlarged by
    ``synthetic_enlarge`` per side; 0, their default), once (``synthetic_resample=True``
    draws them afresh each epoch instead). Validation gets one synthetic point per
    validation event. Known and synthetic anomalies share the anomaly label; the two classes
    are weighted to equal total weight. The score is the logit.

    Parameters
    ----------
    hidden : tuple of int
    scaler : str
    synthetic_ratio, synthetic_enlarge : float
    synthetic_resample : bool
    batch_size, learning_rate, epochs, patience, validation_fraction
    mixed_precision : bool
    seed : int
    device : str
    """

    def __init__(
        self,
        *,
        hidden: tuple[int, ...] = (64, 32),
        scaler: str = "standard",
        synthetic_ratio: float = 1.0,
        synthetic_enlarge: float = 0.0,
        synthetic_resample: bool = False,
        batch_size: int = 256,
        learning_rate: float = 1e-3,
        epochs: int = 100,
        patience: int = 10,
        validation_fraction: float = 0.2,
        mixed_precision: bool = False,
        seed: int = 0,
        device: str = "auto",
        contamination: float = 0.1,
    ) -> None:
        self.hidden = hidden
        self.scaler = scaler
        self.synthetic_ratio = synthetic_ratio
        self.synthetic_enlarge = synthetic_enlarge
        self.synthetic_resample = synthetic_resample
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.mixed_precision = mixed_precision
        self.seed = seed
        self.device = device
        self.contamination = contamination

    def _build_module(self) -> torch.nn.Module:
        return build_network("classifier", self.n_features_in_, self.get_params())

    def fit(
        self, X: Any, y: Any = None, sample_weight: Any = None, *, feature_names: list[str] | None = None
    ) -> SyntheticAnomalyClassifier:
        """Fit normal (``y == 0``) against known anomalies (``y == 1``) plus synthetic ones."""
        arr, sw, x_anom, rng, norm_tr, norm_val, wn_tr, wn_val = self._start_fit(
            X, y, sample_weight, feature_names, "normal"
        )
        device = self._device()
        anom = self.scaler_.transform(x_anom) if len(x_anom) else np.empty((0, arr.shape[1]), np.float32)
        w_anom = _weights_of(sw, y, known=True)
        if len(anom) >= 2:
            anom_tr, anom_val, wa_tr, wa_val = _split_with(
                self._split, anom, w_anom, self.validation_fraction, rng
            )
        else:
            anom_tr, anom_val, wa_tr, wa_val = anom, anom, w_anom, w_anom
        n_synth_tr = round(self.synthetic_ratio * (len(norm_tr) + len(anom_tr)))
        n_synth_val = round(self.synthetic_ratio * len(norm_val))
        if len(anom_tr) + n_synth_tr == 0:
            raise DataFormatError(
                f"{type(self).__name__} needs labelled anomalies (y == 1) or synthetic_ratio > 0; got neither"
            )
        self.n_synthetic_ = n_synth_tr
        gen = torch.Generator().manual_seed(self.seed)
        low, high = synthetic_box(norm_tr, self.synthetic_enlarge)

        def assemble(pos: list[torch.Tensor], neg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            x_pos = torch.cat(pos) if pos else neg[:0]
            xs = torch.cat([neg, x_pos])
            ys = torch.cat([torch.zeros(len(neg), device=device), torch.ones(len(x_pos), device=device)])
            return xs, ys

        neg_tr = self._tensor(norm_tr, device)
        known_tr = self._tensor(anom_tr, device)

        def resample() -> tuple[torch.Tensor, torch.Tensor]:
            pos = [known_tr]
            if n_synth_tr:
                pos.append(uniform_synthetic(n_synth_tr, low, high, generator=gen, device=device))
            return assemble(pos, neg_tr)

        val_pos = [self._tensor(anom_val, device)]
        if n_synth_val:
            val_pos.append(uniform_synthetic(n_synth_val, low, high, generator=gen, device=device))
        x_val, y_val = assemble(val_pos, self._tensor(norm_val, device))
        x_tr, y_tr = resample()
        weights = val_weights = None
        if sw is not None:  # rows: normal, known anomalies, synthetic (weight 1), as assembled
            weights = self._tensor(np.r_[wn_tr, wa_tr, np.ones(n_synth_tr)], device)
            val_weights = self._tensor(
                np.r_[wn_val, wa_val, np.ones(len(x_val) - len(wn_val) - len(wa_val))], device
            )
        self.module_ = self._init_module().to(device)
        self.history_ = {
            "classifier": train_classifier(
                self.module_,
                x_tr,
                y_tr,
                x_val,
                y_val,
                epochs=self.epochs,
                batch_size=self.batch_size,
                learning_rate=self.learning_rate,
                patience=self.patience,
                generator=gen,
                resample=resample if n_synth_tr and self.synthetic_resample else None,
                mixed_precision=self.mixed_precision,
                weights=weights,
                val_weights=val_weights,
            )
        }
        self.module_.eval()
        self._set_threshold(arr, sw)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Classifier logit, shape (n_events,); higher = more anomalous."""
        x = self._transform(X)  # checks that the model is fitted
        return network_scores("classifier", self.module_, x, self._device(), "")


class SupervisedClassifier(SyntheticAnomalyClassifier):
    """Supervised ceiling: normal vs the known anomalies only (no synthetic points)."""

    def __init__(
        self,
        *,
        hidden: tuple[int, ...] = (64, 32),
        scaler: str = "standard",
        batch_size: int = 256,
        learning_rate: float = 1e-3,
        epochs: int = 100,
        patience: int = 10,
        validation_fraction: float = 0.2,
        mixed_precision: bool = False,
        seed: int = 0,
        device: str = "auto",
        contamination: float = 0.1,
    ) -> None:
        super().__init__(
            hidden=hidden,
            scaler=scaler,
            synthetic_ratio=0.0,
            batch_size=batch_size,
            learning_rate=learning_rate,
            epochs=epochs,
            patience=patience,
            validation_fraction=validation_fraction,
            mixed_precision=mixed_precision,
            seed=seed,
            device=device,
            contamination=contamination,
        )


class IsolationForestDetector(_Detector):
    """scikit-learn IsolationForest on background-scaled features (unsupervised baseline).

    Saving never pickles: the scaled training events are stored in safetensors and the forest
    is rebuilt deterministically (fixed ``random_state``) on load, giving identical scores.

    Parameters
    ----------
    n_estimators : int
    max_samples : int or "auto"
    scaler : str
    seed : int
    """

    def __init__(
        self,
        *,
        n_estimators: int = 200,
        max_samples: int | str = "auto",
        scaler: str = "standard",
        seed: int = 0,
        contamination: float = 0.1,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.scaler = scaler
        self.seed = seed
        self.contamination = contamination

    def _forest(self, x: np.ndarray, sample_weight: np.ndarray | None = None) -> Any:
        from sklearn.ensemble import IsolationForest

        return IsolationForest(
            n_estimators=self.n_estimators, max_samples=self.max_samples, random_state=self.seed
        ).fit(x, sample_weight=sample_weight)

    def fit(
        self, X: Any, y: Any = None, sample_weight: Any = None, *, feature_names: list[str] | None = None
    ) -> IsolationForestDetector:
        """Fit on the ``y == 0`` rows (labelled anomalies are ignored)."""
        arr = self._prepare_fit(X, feature_names)
        sw = self._fit_weights(sample_weight, len(arr))
        x_bkg, _ = _split_y(arr, y)
        if len(x_bkg) < 2:
            raise DataFormatError(f"need at least 2 background (y != 1) events, got {len(x_bkg)} sample(s)")
        if sw is not None:
            if np.any(sw < 0):
                raise DataFormatError(
                    "IsolationForestDetector: negative sample weights are not supported (scikit-learn's "
                    "weighted subsampling); use a VAE detector or drop those events"
                )
            w_bkg = sw if y is None else sw[np.asarray(y).ravel() != 1]
            self.train_weight_ = w_bkg
        self.scaler_ = Scaler(self.scaler).fit(x_bkg)  # type: ignore[arg-type]
        self.train_ = self.scaler_.transform(x_bkg)
        self.forest_ = self._forest(self.train_, getattr(self, "train_weight_", None))
        self.history_ = {}
        self._set_threshold(arr, sw)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Negative IsolationForest ``score_samples``; higher = more anomalous."""
        x = self._transform(X)
        return -self.forest_.score_samples(x).astype(np.float64)

    def _arrays(self) -> dict[str, np.ndarray]:
        out = {"train": self.train_}
        if "train_weight_" in self.__dict__:
            out["sample_weight"] = self.train_weight_
        return out

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.train_ = arrays["train"]
        if "sample_weight" in arrays:
            self.train_weight_ = arrays["sample_weight"]
        self.forest_ = self._forest(self.train_, arrays.get("sample_weight"))


#: Method names of the CLI and workflow, mapped to detector classes and fixed options.
METHODS: dict[str, tuple[type[_Detector], dict[str, Any]]] = {
    "vae": (PlainVAE, {}),
    "vae-matched": (EpochMatchedVAE, {"synthetic_ratio": 0.0}),
    "aa-vae": (AnomalyAwareVAE, {"synthetic_ratio": 0.0}),
    "aa-vae-synth": (AnomalyAwareVAE, {}),
    "synth-classifier": (SyntheticAnomalyClassifier, {}),
    "iforest": (IsolationForestDetector, {}),
    "supervised": (SupervisedClassifier, {}),
}


def make_detector(method: str, config: Config | None = None, *, seed: int = 0, **overrides: Any) -> _Detector:
    """Build the detector of a workflow ``method`` with hyperparameters from ``config``.

    Parameters
    ----------
    method : {"vae", "aa-vae", "aa-vae-synth", "synth-classifier", "iforest", "supervised"}
    config : Config, optional
        The ``model`` and ``training`` sections supply hyperparameters; the detector defaults
        otherwise.
    seed : int
    **overrides
        Extra hyperparameters (e.g. ``scaler="none"`` for images).
    """
    if method not in METHODS:
        raise ModelError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    klass, fixed = METHODS[method]
    names = set(klass._get_param_names())
    params: dict[str, Any] = {}
    if config is not None:
        t, m = config.training, config.model
        params.update(m.__dict__ if hasattr(m, "__dict__") else {})
        params.update(t.__dict__)
    params.update(fixed)
    if method == "aa-vae-synth" and params.get("synthetic_ratio", 0) <= 0:
        params["synthetic_ratio"] = 1.0
    params.update(overrides)
    params["seed"] = seed
    return klass(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in params.items() if k in names})


def load_detector(path: str | os.PathLike[str]) -> _Detector:
    """Load any saved detector, whatever its class."""
    return _Detector.load(path)
