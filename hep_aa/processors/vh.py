"""``AnomalyScoreProcessor``: score Z h events inside coffea analyses (eager executors and dask).

Built on the composition API of :mod:`hep_aa.processors.scoring`: the object selection and
the features are the code of ``hep-aa features vh``; the model is loaded once per worker
process and checked against the feature set when the processor is constructed. Event weights
go through :class:`coffea.analysis_tools.Weights`: every variation it holds fills the
``systematic`` axis of the histograms (``nominal`` plus ``<name>Up``/``<name>Down``); add your
own corrections by overriding :meth:`AnomalyScoreProcessor.weights`.

Output per dataset (``events.metadata["dataset"]``): ``score`` (systematic × score),
``score_vs_mzh`` (systematic × score × m(Zh)), ``cutflow`` (weighted, StrCategory ``cut``),
``cutflow_events`` (raw event counts), ``sumw`` and ``n_events``. The score axis is binned from
the model's training-background score distribution: equal-population bins up to the largest
training score, then five wider bins beyond it, so both the bulk and the anomalous tail are
resolved; pass ``score_bins=(n, low, high)`` or a list of edges to choose yourself.

Example (eager executors)
-------------------------
>>> from coffea import processor  # doctest: +SKIP
>>> from hep_aa.processors import AnomalyScoreProcessor
>>> proc = AnomalyScoreProcessor(model_dir="results/vh/models/aa-vae_seed0")
>>> run = processor.Runner(executor=processor.FuturesExecutor(workers=4))
>>> out = run({"ZH": ["zh.root"]}, proc, treename="Events")
>>> out["ZH"]["score"][{"systematic": "nominal"}].plot1d()

Dask mode
---------
>>> import dask  # doctest: +SKIP
>>> from coffea.nanoevents import NanoEventsFactory, NanoAODSchema
>>> events = NanoEventsFactory.from_root({"zh.root": "Events"}, schemaclass=NanoAODSchema,
...                                      mode="dask", metadata={"dataset": "ZH"}).events()
>>> (out,) = dask.compute(proc.process(events))
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
from coffea import processor

from hep_aa.exceptions import ConfigError, ModelError
from hep_aa.features.higgs import CUTFLOW_STEPS
from hep_aa.features.selection import DEFAULT_SELECTION, ObjectSelection
from hep_aa.processors.scoring import Scorer, check_model, is_dask, score_features, vh_event_table

__all__ = ["AnomalyScoreProcessor", "score_edges", "training_scores"]

#: Cap on background events scored to derive the score binning of an older model.
_MAX_REFERENCE = 20_000


def training_scores(model: Any, model_dir: str | Path) -> np.ndarray:
    """Scores of the model's training background.

    Taken from the model (``decision_scores_`` after fit; a saved model keeps 201 quantiles
    of them in ``history_["training_scores"]``); for models saved before hep_aa stored them,
    the background rows of the feature table recorded in the provenance are scored once.

    Raises
    ------
    ModelError
        Neither is available (then pass explicit ``score_bins``).
    """
    stored = getattr(model, "decision_scores_", None)
    if stored is not None and len(stored):
        return np.asarray(stored, dtype=np.float64)
    summary = getattr(model, "history_", {}).get("training_scores") or {}
    if summary.get("quantiles"):  # a saved model: 201 quantiles of its training scores
        return np.asarray(summary["quantiles"], dtype=np.float64)
    table_path = getattr(model, "provenance_", {}).get("features")
    if table_path and Path(table_path).is_file():
        from hep_aa.io.artifacts import read_table

        table = read_table(table_path)
        x = table.features[table.labels == 0][:_MAX_REFERENCE]
        x = x[np.all(np.isfinite(x), axis=1)]
        if len(x):
            return np.asarray(model.decision_function(x), dtype=np.float64)
    raise ModelError(
        f"{model_dir}: the model stores no training scores and its training table "
        f"({table_path or 'not recorded'}) cannot be read; pass score_bins=(n, low, high)"
    )


def score_edges(scores: np.ndarray, n_bins: int = 40) -> np.ndarray:
    """Bin edges: ``n_bins`` equal-population bins of ``scores``, then 5 wider bins beyond.

    The tail edges lie at max + (0.25, 0.5, 1, 2, 4) × (max − min) of the training scores.
    """
    s = np.sort(np.asarray(scores, dtype=np.float64))
    s = s[np.isfinite(s)]
    if len(s) < 2 or s[-1] <= s[0]:
        raise ModelError("the training scores have no spread; pass explicit score_bins")
    bulk = np.quantile(s, np.linspace(0.0, 1.0, n_bins + 1))
    span = s[-1] - s[0]
    return np.unique(np.r_[bulk, s[-1] + span * np.array([0.25, 0.5, 1.0, 2.0, 4.0])])


def _cutflow_hist(labels: list[str], sumw: Sequence[float], sumw2: Sequence[float]) -> Any:
    import hist

    h = hist.Hist(
        hist.axis.StrCategory(labels, name="cut", label="Selection step"), storage=hist.storage.Weight()
    )
    view = h.view()
    view["value"] = np.asarray(sumw, dtype=np.float64)
    view["variance"] = np.asarray(sumw2, dtype=np.float64)
    return h


def _count_hist(labels: list[str], counts: Sequence[int]) -> Any:
    import hist

    h = hist.Hist(
        hist.axis.StrCategory(labels, name="cut", label="Selection step"), storage=hist.storage.Double()
    )
    h.view()[:] = np.asarray(counts, dtype=np.float64)
    return h


class AnomalyScoreProcessor(processor.ProcessorABC):
    """Score Z h candidates with a saved hep_aa detector and fill ``hist`` histograms.

    Works with coffea's eager executors (Iterative, Futures, Dask ``Runner``) and in dask mode
    (``process`` on dask-awkward NanoEvents returns ``hist.dask`` histograms; ``dask.compute``
    them). The model is checked when the processor is built and loaded once per worker.

    The parameters are keyword-only plain data, so the processor pickles cheaply.

    Parameters
    ----------
    model_dir : str
        Saved detector trained on the ``vh`` feature set (``hep-aa features vh``).
    selection : ObjectSelection, optional
        Object selection (CMS defaults: :data:`~hep_aa.features.selection.DEFAULT_SELECTION`).
    score_bins : "auto", (n, low, high) or sequence of edges
        ``"auto"``: from the model's training-background scores (:func:`score_edges`).
    n_score_bins : int
        Bulk bins of the ``"auto"`` binning.
    mzh_bins : tuple (n, low, high)
        Binning of the m(Zh) axis [GeV].
    min_pt_z : float
        Extra selection pT(Z) > this [GeV] (0 = none), counted in the cutflow.
    weight : str, optional
        Per-event weight factor branch; the event weight is ``genWeight`` (1 when absent)
        times it, as in ``hep-aa features vh``.
    device : str
        Device of the scorer on the worker.

    Raises
    ------
    ModelError
        At construction: the model folder is missing or corrupt, or the model was trained on
        other features than the ``vh`` set.
    """

    def __init__(
        self,
        *,
        model_dir: str,
        selection: ObjectSelection | None = None,
        score_bins: str | tuple[int, float, float] | Sequence[float] = "auto",
        n_score_bins: int = 40,
        mzh_bins: tuple[int, float, float] = (40, 200.0, 1400.0),
        min_pt_z: float = 0.0,
        weight: str | None = None,
        device: str = "auto",
    ) -> None:
        self.model_dir = str(model_dir)
        self.selection = selection or DEFAULT_SELECTION
        self.mzh_bins = tuple(mzh_bins)
        self.min_pt_z = float(min_pt_z)
        self.weight = weight
        model = check_model(self.model_dir, device=device)  # ModelError here, not in a worker
        if isinstance(score_bins, str):
            if score_bins != "auto":
                raise ConfigError(
                    f"score_bins: {score_bins!r} is not 'auto', (n, low, high) or a list of edges"
                )
            edges = score_edges(training_scores(model, self.model_dir), n_score_bins)
        elif len(score_bins) == 3 and isinstance(score_bins[0], (int, np.integer)):
            n, lo, hi = score_bins  # type: ignore[misc]
            edges = np.linspace(float(lo), float(hi), int(n) + 1)
        else:
            edges = np.asarray(score_bins, dtype=np.float64)
        if edges.ndim != 1 or len(edges) < 2 or not np.all(np.diff(edges) > 0):
            raise ConfigError(f"score_bins: edges must increase strictly, got {edges.tolist()}")
        self.score_edges = tuple(float(e) for e in edges)
        self.scorer = Scorer(self.model_dir, device)

    # -- hooks for subclasses ------------------------------------------------------------
    def weights(self, events: Any, model: Any) -> Any:
        """Event weights with their variations (override to add corrections).

        Parameters
        ----------
        events : NanoEvents
        model : per-event record of :func:`~hep_aa.processors.scoring.vh_event_table`
            (``model.weight`` = generator weight or the ``weight`` branch)

        Returns
        -------
        coffea.analysis_tools.Weights
            Every ``weights.variations`` entry becomes a ``systematic`` category.
        """
        from coffea.analysis_tools import Weights

        w = Weights(None if is_dask(events) else len(events), storeIndividual=True)
        w.add("generator", model.weight if is_dask(events) else np.asarray(ak.to_numpy(model.weight)))
        return w

    # -- histograms ----------------------------------------------------------------------
    def _hists(self, dask: bool, systematics: list[str]) -> dict[str, Any]:
        import hist

        factory = hist.Hist
        if dask:
            import hist.dask

            factory = hist.dask.Hist
        syst = hist.axis.StrCategory(systematics, name="systematic", label="Systematic variation")
        score = hist.axis.Variable(self.score_edges, name="score", label="Anomaly score")
        nm, mlo, mhi = self.mzh_bins
        mzh = hist.axis.Regular(int(nm), mlo, mhi, name="m_zh", label=r"$m_{Zh}$ [GeV]")
        return {
            "score": factory(syst, score, storage=hist.storage.Weight()),
            "score_vs_mzh": factory(syst, score, mzh, storage=hist.storage.Weight()),
        }

    def process(self, events: Any) -> dict[str, Any]:
        dask = is_dask(events)
        metadata = getattr(events, "metadata", None) or {}
        dataset = metadata.get("dataset", "unknown")
        model = vh_event_table(events, selection=self.selection, weight=self.weight)
        feats = model.features
        steps = {name: model[f"step{i}"] for i, name in enumerate(CUTFLOW_STEPS)}
        scores = score_features(feats, self.scorer)
        weights = self.weights(events, model)
        systematics = ["nominal", *sorted(weights.variations)]

        masks: dict[str, Any] = {"all events": None, **steps}
        keep = steps[CUTFLOW_STEPS[-1]]
        if self.min_pt_z > 0:
            keep = keep & ak.fill_none(feats.pt_z > self.min_pt_z, False)
            masks[f"pT(Z) > {self.min_pt_z:g} GeV"] = keep
        keep = keep & ~ak.is_none(scores)
        masks["scored"] = keep

        out = self._hists(dask, systematics)
        score_kept = ak.fill_none(scores[keep], 0.0)
        mzh_kept = ak.fill_none(feats.m_zh[keep], 0.0)
        nominal = weights.weight()
        if not dask:
            keep_np = np.asarray(ak.to_numpy(keep), dtype=bool)
            score_kept = np.asarray(ak.to_numpy(score_kept))
            mzh_kept = np.asarray(ak.to_numpy(mzh_kept))
        for syst in systematics:
            w = nominal if syst == "nominal" else weights.weight(syst)
            w = w[keep] if dask else np.asarray(w)[keep_np]
            out["score"].fill(systematic=syst, score=score_kept, weight=w)
            out["score_vs_mzh"].fill(systematic=syst, score=score_kept, m_zh=mzh_kept, weight=w)

        labels = list(masks)
        sumw, sumw2, counts = [], [], []
        for mask in masks.values():
            wm = (
                nominal
                if mask is None
                else (nominal[mask] if dask else np.asarray(nominal)[ak.to_numpy(mask)])
            )
            sumw.append(ak.sum(wm) if dask else float(np.sum(wm)))
            sumw2.append(ak.sum(wm**2) if dask else float(np.sum(wm**2)))
            n = ak.num(model.weight, axis=0) if mask is None else ak.sum(mask)
            counts.append(n if dask else int(n))
        if dask:
            from dask import delayed

            out["cutflow"] = delayed(_cutflow_hist)(labels, sumw, sumw2)
            out["cutflow_events"] = delayed(_count_hist)(labels, counts)
        else:
            out["cutflow"] = _cutflow_hist(labels, sumw, sumw2)
            out["cutflow_events"] = _count_hist(labels, counts)
        out["sumw"] = sumw[0]
        out["n_events"] = counts[0]
        return {dataset: out}

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator
