"""Scoring NanoEvents with a saved hep_aa detector: the composition API for coffea analyses.

:func:`score_events` is what a user calls inside their own ``process()``::

    from hep_aa.processors import score_events

    def process(self, events):
        scores = score_events(events, "models/aa-vae_seed0")  # aligned with events, None = no Zh
        ...

It works the same on eager/virtual NanoEvents (coffea ``Runner`` executors) and on
dask-awkward NanoEvents (``NanoEventsFactory.from_root(..., mode="dask")``,
``coffea.dataset_tools.apply_to_fileset``): the object selection and the features are
awkward operations (:mod:`hep_aa.features.selection`, :func:`hep_aa.features.higgs.vh_candidates`,
the same code as ``hep-aa features vh``) and stay lazy under dask; only the network
evaluation runs per partition (``dask_awkward.map_partitions``).

Models are loaded once per process (worker) and cached by folder, file modification times and
device; a :class:`Scorer` pickles as its folder name only.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from hep_aa.exceptions import DataFormatError, ModelError
from hep_aa.features.higgs import CUTFLOW_STEPS, VH_FEATURES, vh_candidates
from hep_aa.features.selection import DEFAULT_SELECTION, ObjectSelection

__all__ = [
    "Scorer",
    "check_model",
    "event_model",
    "is_dask",
    "score_events",
    "score_features",
    "vh_event_features",
    "vh_event_table",
]

_CACHE: dict[tuple[str, str, tuple[float, ...]], Any] = {}
_CACHE_LOCK = threading.Lock()
#: Number of models this process has loaded from disk (tests check "once per worker").
LOADS = {"count": 0}


def is_dask(array: Any) -> bool:
    """True for dask-awkward collections (coffea ``mode="dask"``)."""
    return type(array).__module__.startswith("dask_awkward")


def _model_files(folder: Path) -> tuple[float, ...]:
    try:
        return tuple(p.stat().st_mtime for p in sorted(folder.iterdir()) if p.is_file())
    except FileNotFoundError:
        raise ModelError(f"{folder}: model folder not found; pass a folder written by hep-aa train") from None


def check_model(
    model_dir: str | os.PathLike[str], feature_names: tuple[str, ...] = VH_FEATURES, *, device: str = "auto"
) -> Any:
    """Load (or take from the process cache) a detector and check it scores ``feature_names``.

    Raises
    ------
    ModelError
        Missing/corrupt folder, or a model trained on other features (names both lists).
    """
    folder = Path(model_dir)
    model = _load(folder, device)
    trained = list(getattr(model, "feature_names_in_", []))
    if trained != list(feature_names):
        raise ModelError(
            f"{folder}: the model was trained on features {trained} but the processor computes "
            f"{list(feature_names)}; train it on a table written by 'hep-aa features vh'"
        )
    return model


def _load(folder: Path, device: str) -> Any:
    key = (str(folder.resolve()), device, _model_files(folder))
    with _CACHE_LOCK:
        model = _CACHE.get(key)
        if model is None:
            from hep_aa.detector import load_detector

            model = load_detector(folder)
            if "device" in model.get_params():  # torch detectors: this process's device
                model.set_params(device=device)
                model.module_ = model.module_.to(model._device())
            _CACHE[key] = model
            LOADS["count"] += 1
    return model


class Scorer:
    """Picklable handle of a saved detector; the model is loaded once per process.

    Parameters
    ----------
    model_dir : str
        Folder written by ``hep-aa train`` / ``.save()``.
    device : str
        ``"auto"`` resolves on the worker.
    """

    def __init__(self, model_dir: str | os.PathLike[str], device: str = "auto") -> None:
        self.model_dir = str(model_dir)
        self.device = device

    @property
    def model(self) -> Any:
        """The detector (loaded on first use in this process, then cached)."""
        return _load(Path(self.model_dir), self.device)

    @property
    def loaded(self) -> bool:
        folder = Path(self.model_dir)
        return any(k[0] == str(folder.resolve()) and k[1] == self.device for k in _CACHE)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Scores of ``x`` (n_events, n_features); higher = more anomalous."""
        if len(x) == 0:
            return np.empty(0)
        return np.asarray(self.model.decision_function(x), dtype=np.float64)

    @property
    def feature_names(self) -> list[str]:
        return list(self.model.feature_names_in_)

    def __getstate__(self) -> dict[str, Any]:
        return {"model_dir": self.model_dir, "device": self.device}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["model_dir"], state["device"])  # type: ignore[misc]


#: Backwards-compatible name.
LazyScorer = Scorer


def _muon_id_level(mu: Any) -> Any:
    level = 0 * mu.pt
    for name, value in (("looseId", 2), ("mediumId", 3), ("tightId", 4)):
        if name in mu.fields:
            level = ak.where(mu[name], value, level)
    return ak.values_astype(level, np.int32)


def _leptons(coll: Any, flavour: int, *, id_level: Any, iso: Any) -> Any:
    mass = coll.mass if "mass" in coll.fields else 0.0 * coll.pt + (0.000511 if flavour == 11 else 0.10566)
    charge = ak.values_astype(coll.charge, np.int32)
    fields = {
        "pt": ak.values_astype(coll.pt, np.float64),
        "eta": ak.values_astype(coll.eta, np.float64),
        "phi": ak.values_astype(coll.phi, np.float64),
        "mass": ak.values_astype(mass, np.float64),
        "charge": charge,
        "pdgId": -flavour * charge,
    }
    if id_level is not None:
        fields["id"] = ak.values_astype(id_level, np.int32)
    if iso is not None:
        fields["iso"] = ak.values_astype(iso, np.float64)
    return ak.zip(fields)


def _first(coll: Any, names: tuple[str, ...]) -> Any:
    return next((coll[n] for n in names if n in coll.fields), None)


def event_model(events: Any, *, selection: ObjectSelection | None = None, weight: str | None = None) -> Any:
    """NanoEvents (NanoAOD or Delphes schema) → hep_aa's common lepton/jet event model.

    Lepton ID levels and isolation, the jet ID bits and the raw b-tag discriminant are carried
    when the file has them (real NanoAOD), so :func:`~hep_aa.features.selection.select_objects`
    applies the full selection; only the branches used are read. Works on eager and dask events.

    Parameters
    ----------
    events : NanoEvents (eager, virtual or dask)
    selection : ObjectSelection, optional
        Decides which b-tag discriminant is read.
    weight : str, optional
        Per-event weight factor branch (e.g. ``SMEFTweight_<point>``); the event weight is
        ``genWeight`` (1 when absent) times this branch, as in ``hep-aa features vh``.
    """
    sel = selection or DEFAULT_SELECTION
    fields = events.fields
    if "Jet" not in fields or "Electron" not in fields or "Muon" not in fields:
        raise DataFormatError(
            f"events have no Electron/Muon/Jet collections (fields {sorted(fields)[:8]}...); "
            "read NanoAOD with NanoAODSchema or Delphes with DelphesSchema"
        )
    ele, mu, jet = events.Electron, events.Muon, events.Jet
    if "PT" in jet.fields:  # DelphesSchema
        jets = ak.zip(
            {
                "pt": ak.values_astype(jet.PT, np.float64),
                "eta": ak.values_astype(jet.Eta, np.float64),
                "phi": ak.values_astype(jet.Phi, np.float64),
                "mass": ak.values_astype(jet.Mass, np.float64),
                "btag": ak.values_astype(jet.BTag > 0, np.float64),
            }
        )
        ele = ak.zip({"pt": ele.PT, "eta": ele.Eta, "phi": ele.Phi, "charge": ele.Charge})
        mu = ak.zip({"pt": mu.PT, "eta": mu.Eta, "phi": mu.Phi, "charge": mu.Charge})
        e_id = m_id = e_iso = m_iso = None
    else:
        branch = sel.btag_branch
        if branch not in jet.fields:
            raise DataFormatError(
                f"events have no Jet_{branch} for b tagging with {sel.btag}; choose another "
                "ObjectSelection(btag=...) or check the file"
            )
        jfields = {
            "pt": ak.values_astype(jet.pt, np.float64),
            "eta": ak.values_astype(jet.eta, np.float64),
            "phi": ak.values_astype(jet.phi, np.float64),
            "mass": ak.values_astype(jet.mass, np.float64),
            "btag": ak.values_astype(jet[branch] > sel.btag_threshold, np.float64),
            "btag_score": ak.values_astype(jet[branch], np.float64),
        }
        if "jetId" in jet.fields:
            jfields["jet_id"] = ak.values_astype(jet.jetId, np.int32)
        jets = ak.zip(jfields)
        has_id = "cutBased" in ele.fields and "tightId" in mu.fields
        e_id = ele.cutBased if has_id else None
        m_id = _muon_id_level(mu) if has_id else None
        e_iso = _first(ele, ("pfRelIso03_all",))
        m_iso = _first(mu, ("pfRelIso04_all", "pfRelIso03_all"))
        if e_iso is None or m_iso is None:
            e_iso = m_iso = None
    leptons = ak.concatenate(
        [_leptons(ele, 11, id_level=e_id, iso=e_iso), _leptons(mu, 13, id_level=m_id, iso=m_iso)], axis=1
    )
    leptons = leptons[ak.argsort(leptons.pt, axis=1, ascending=False)]
    if "genWeight" in fields:
        w = ak.values_astype(events.genWeight, np.float64)
    else:
        w = 0.0 * ak.num(jets, axis=1) + 1.0
    if weight is not None and weight != "genWeight":
        if weight not in fields:
            raise DataFormatError(f"events have no weight branch {weight!r}")
        w = w * ak.values_astype(events[weight], np.float64)
    return ak.zip({"leptons": leptons, "jets": jets, "weight": w}, depth_limit=1)


def _vh_table(events: Any, selection: ObjectSelection | None, weight: str | None) -> ak.Array:
    model = event_model(events, selection=selection, weight=weight)
    feats, steps = vh_candidates(model, selection)
    cols = {"features": feats, "weight": model.weight}
    cols.update({f"step{i}": mask for i, mask in enumerate(steps.values())})
    return ak.zip(cols, depth_limit=1)


def vh_event_table(
    events: Any, *, selection: ObjectSelection | None = None, weight: str | None = None
) -> Any:
    """Per event: ``features`` (None = no candidate), ``weight`` and the cutflow masks ``step0..``.

    Under dask the whole chain (event model, selection, features) is one
    ``dask_awkward.map_partitions`` layer built from awkward operations — the same function
    the eager path calls — which keeps the task graph and its column optimisation small.
    """
    if is_dask(events):
        import dask_awkward as dak

        return dak.map_partitions(
            _vh_table, events, selection=selection, weight=weight, label="hep-aa-vh-features"
        )
    return _vh_table(events, selection, weight)


def vh_event_features(
    events: Any, *, selection: ObjectSelection | None = None, weight: str | None = None
) -> tuple[Any, dict[str, Any]]:
    """Z h features of NanoEvents, aligned with them (None = no candidate), and the cutflow masks.

    See :func:`hep_aa.features.higgs.vh_candidates`; the input is NanoEvents instead of the
    common event model.
    """
    table = vh_event_table(events, selection=selection, weight=weight)
    return table.features, {name: table[f"step{i}"] for i, name in enumerate(CUTFLOW_STEPS)}


class _PartitionScorer:
    """Scores one partition of feature records; on typetracers it only declares its columns."""

    def __init__(self, scorer: Scorer, names: tuple[str, ...]) -> None:
        self.scorer = scorer
        self.names = names

    def __call__(self, feats: ak.Array) -> ak.Array:
        if ak.backend(feats) == "typetracer":  # dask-awkward's type/column inference
            out = 0.0 * feats[self.names[0]]
            for name in self.names[1:]:
                out = out + 0.0 * feats[name]
            return out
        valid = ~ak.to_numpy(ak.is_none(feats))
        x = np.column_stack(
            [np.asarray(ak.to_numpy(ak.fill_none(feats[n], np.nan)), dtype=np.float64) for n in self.names]
        )
        ok = valid & np.all(np.isfinite(x), axis=1)
        scores = np.zeros(len(x))
        scores[ok] = self.scorer(x[ok])
        return ak.mask(ak.Array(scores), ok)


def _as_scorer(model: Any) -> Scorer | Any:
    if isinstance(model, Scorer):
        return model
    if isinstance(model, (str, os.PathLike)):
        check_model(model)
        return Scorer(model)
    if hasattr(model, "decision_function"):
        names = list(getattr(model, "feature_names_in_", VH_FEATURES))
        if names != list(VH_FEATURES):
            raise ModelError(f"the model was trained on features {names}, not the vh set {list(VH_FEATURES)}")
        return lambda x: np.asarray(model.decision_function(x), dtype=np.float64)
    raise ModelError(
        f"cannot score with {type(model).__name__}: pass a model folder, a Scorer or a fitted detector"
    )


def score_features(features: Any, model: Any) -> Any:
    """Scores of :func:`vh_event_features` records, aligned with them (None = not scorable).

    Events without candidates or with a non-finite feature get None. Lazy under dask.
    """
    fn = _PartitionScorer(_as_scorer(model), VH_FEATURES)  # type: ignore[arg-type]
    if is_dask(features):
        import dask_awkward as dak

        return dak.map_partitions(fn, features, label="hep-aa-score")
    return fn(features)


def score_events(
    events: Any, model: Any, *, selection: ObjectSelection | None = None, weight: str | None = None
) -> Any:
    """Anomaly score of every event, aligned with ``events``; None where not scorable.

    Parameters
    ----------
    events : NanoEvents (NanoAOD or Delphes schema; eager, virtual or dask)
    model : str, path, :class:`Scorer` or fitted detector
        A folder written by ``hep-aa train`` (loaded once per process) or an estimator
        trained on :data:`~hep_aa.features.higgs.VH_FEATURES`.
    selection : ObjectSelection, optional
        Object selection (CMS defaults when None); the same code as ``hep-aa features vh``.
    weight : str, optional
        Weight branch (only carried along; scores do not depend on it).

    Returns
    -------
    awkward or dask-awkward array of ``?float64``, one entry per event: higher = more
    anomalous; None for events without a Z and an h candidate or with non-finite features.
    """
    feats, _ = vh_event_features(events, selection=selection, weight=weight)
    return score_features(feats, model)
