"""``AnomalyScoreProcessor``: score Z h events inside coffea analyses.

The processor turns NanoEvents (``NanoAODSchema`` or ``DelphesSchema``) into hep_aa's common
lepton/jet event model, builds the features with :func:`hep_aa.features.higgs.vh_features`
(the same code as ``hep-aa features vh``) and scores them with a lazy, picklable scorer: the
model is loaded on first use in the worker process, on the device chosen there, and is never
pickled. It fills ``hist`` histograms — the score, the score versus m(Zh), a cutflow and the
sum of weights — and returns them keyed by ``events.metadata["dataset"]``.

Example
-------
>>> from coffea import processor  # doctest: +SKIP
>>> from hep_aa.processors import AnomalyScoreProcessor
>>> proc = AnomalyScoreProcessor(model_dir="results/vh/models/aa-vae_seed0")
>>> run = processor.Runner(executor=processor.FuturesExecutor(workers=4))
>>> out = run({"ZH": ["zh.root"]}, proc, treename="Events")
>>> out["ZH"]["score"].plot1d()
"""

from __future__ import annotations

import threading
from typing import Any

import awkward as ak
import numpy as np
from coffea import processor

from hep_aa.features.higgs import vh_features
from hep_aa.io.root import BTAG_THRESHOLD, jet_records

__all__ = ["AnomalyScoreProcessor", "LazyScorer", "nanoevents_to_model"]


class LazyScorer:
    """Picklable wrapper of a saved detector: loads it on first call, never pickles it.

    Parameters
    ----------
    model_dir : str
        Folder written by ``hep-aa train`` / ``.save()``.
    device : str
        ``"auto"`` resolves on the worker.
    """

    def __init__(self, model_dir: str, device: str = "auto") -> None:
        self.model_dir = str(model_dir)
        self.device = device
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                from hep_aa.detector import load_detector

                model = load_detector(self.model_dir)
                if "device" in model.get_params():  # torch detectors: the worker's device
                    model.set_params(device=self.device)
                    model.module_ = model.module_.to(model._device())
                self._model = model
        return self._model

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Scores of ``x`` (n_events, n_features); higher = more anomalous."""
        if len(x) == 0:
            return np.empty(0)
        return self._load().decision_function(x)

    @property
    def feature_names(self) -> list[str]:
        return list(self._load().feature_names_in_)

    def __getstate__(self) -> dict[str, Any]:
        return {"model_dir": self.model_dir, "device": self.device}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["model_dir"], state["device"])  # type: ignore[misc]


def _lepton_records(coll: ak.Array, flavour: int) -> ak.Array:
    mass = (
        coll.mass
        if "mass" in coll.fields
        else ak.zeros_like(coll.pt) + (0.000511 if flavour == 11 else 0.10566)
    )
    charge = ak.values_astype(coll.charge, np.int32)
    return ak.zip(
        {
            "pt": ak.values_astype(coll.pt, np.float64),
            "eta": ak.values_astype(coll.eta, np.float64),
            "phi": ak.values_astype(coll.phi, np.float64),
            "mass": ak.values_astype(mass, np.float64),
            "charge": charge,
            "pdgId": -flavour * charge,
        }
    )


def nanoevents_to_model(events: Any, *, weight: str | None = None) -> ak.Array:
    """NanoEvents (NanoAOD or Delphes schema) → the common lepton/jet event model.

    Only the lepton and jet kinematics, charges, the b-tag and the weight are touched, so
    coffea reads only those branches.
    """
    fields = events.fields
    if "Electron" in fields and "Jet" in fields and "btagDeepFlavB" in events.Jet.fields:
        ele, mu, jet = events.Electron, events.Muon, events.Jet
        btag = jet.btagDeepFlavB > BTAG_THRESHOLD
    elif "Jet" in fields and "BTag" in events.Jet.fields:  # DelphesSchema
        ele, mu, jet = events.Electron, events.Muon, events.Jet
        btag = jet.BTag > 0
        jet = ak.zip({"pt": jet.PT, "eta": jet.Eta, "phi": jet.Phi, "mass": jet.Mass})
        ele = ak.zip({"pt": ele.PT, "eta": ele.Eta, "phi": ele.Phi, "charge": ele.Charge})
        mu = ak.zip({"pt": mu.PT, "eta": mu.Eta, "phi": mu.Phi, "charge": mu.Charge})
    else:
        raise ValueError("events have neither NanoAOD (Jet.btagDeepFlavB) nor Delphes (Jet.BTag) jets")
    leptons = ak.concatenate([_lepton_records(ele, 11), _lepton_records(mu, 13)], axis=1)
    leptons = leptons[ak.argsort(leptons.pt, axis=1, ascending=False)]
    jets = jet_records(jet.pt, jet.eta, jet.phi, jet.mass, btag)
    if weight is not None:
        w = ak.to_numpy(events[weight]).astype(np.float64)
    elif "genWeight" in fields:
        w = ak.to_numpy(events.genWeight).astype(np.float64)
    else:
        w = np.ones(len(events))
    return ak.zip({"leptons": leptons, "jets": jets, "weight": w}, depth_limit=1)


class AnomalyScoreProcessor(processor.ProcessorABC):
    """Score Z h candidates with a saved hep_aa detector and fill histograms.

    Parameters (keyword-only, plain data, so the processor pickles cheaply)
    ----------
    model_dir : str
        Saved detector trained on the ``vh`` feature set.
    score_bins : tuple (n, low, high)
        Binning of the score axis.
    mzh_bins : tuple (n, low, high)
        Binning of the m(Zh) axis [GeV].
    min_pt_z : float
        Optional selection: pT(Z) above this [GeV] (0 = none); failing events are counted.
    weight : str, optional
        Event-weight branch (default ``genWeight`` when present, else 1).
    device : str
        Device of the scorer on the worker.
    """

    def __init__(
        self,
        *,
        model_dir: str,
        score_bins: tuple[int, float, float] = (50, 0.0, 50.0),
        mzh_bins: tuple[int, float, float] = (40, 200.0, 1400.0),
        min_pt_z: float = 0.0,
        weight: str | None = None,
        device: str = "auto",
    ) -> None:
        self.model_dir = str(model_dir)
        self.score_bins = tuple(score_bins)
        self.mzh_bins = tuple(mzh_bins)
        self.min_pt_z = float(min_pt_z)
        self.weight = weight
        self.scorer = LazyScorer(self.model_dir, device)

    def _histograms(self) -> dict[str, Any]:
        import hist

        n, lo, hi = self.score_bins
        nm, mlo, mhi = self.mzh_bins
        score_axis = hist.axis.Regular(int(n), lo, hi, name="score", label="Anomaly score")
        return {
            "score": hist.Hist(score_axis, storage=hist.storage.Weight()),
            "score_vs_mzh": hist.Hist(
                score_axis,
                hist.axis.Regular(int(nm), mlo, mhi, name="m_zh", label=r"$m_{Zh}$ [GeV]"),
                storage=hist.storage.Weight(),
            ),
            "cutflow": hist.Hist(hist.axis.StrCategory([], growth=True, name="cut", label="Selection step")),
        }

    def process(self, events: Any) -> dict[str, Any]:
        dataset = events.metadata.get("dataset", "unknown") if hasattr(events, "metadata") else "unknown"
        out = self._histograms()
        model = nanoevents_to_model(events, weight=self.weight)
        feats = vh_features(model)
        out["cutflow"].fill(cut=["all events"], weight=[len(model)])
        out["cutflow"].fill(cut=["Z and h candidates"], weight=[int(feats.kept.sum())])
        x = feats.matrix()
        keep = feats.columns["pt_z"] > self.min_pt_z if self.min_pt_z > 0 else np.ones(len(x), dtype=bool)
        if self.min_pt_z > 0:
            out["cutflow"].fill(cut=[f"pT(Z) > {self.min_pt_z:g} GeV"], weight=[int(keep.sum())])
        x, w = x[keep], feats.columns["weight"][keep]
        finite = np.all(np.isfinite(x), axis=1)
        out["cutflow"].fill(cut=["finite features"], weight=[int(finite.sum())])
        scores = self.scorer(x[finite])
        w = w[finite]
        out["score"].fill(score=scores, weight=w)
        out["score_vs_mzh"].fill(score=scores, m_zh=feats.columns["m_zh"][keep][finite], weight=w)
        out["sumw"] = float(np.sum(model.weight))
        out["n_events"] = len(model)
        return {dataset: out}

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator
