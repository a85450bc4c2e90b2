"""Example: a user's own Z h analysis that composes :func:`~hep_aa.processors.score_events`.

This is the pattern to copy into an analysis. The processor keeps its own event selection
(a single-lepton trigger proxy and a MET cut), asks hep_aa only for the anomaly score of each
event (aligned with ``events``, None where hep_aa finds no Z and h candidate), and books its
own weights with :class:`coffea.analysis_tools.Weights`, here a ±5 % normalisation
uncertainty that lands on the ``systematic`` axis. It runs unchanged with coffea's eager
executors and in dask mode.

>>> from coffea import processor  # doctest: +SKIP
>>> from hep_aa.processors.example import ZhAnalysisExample
>>> run = processor.Runner(executor=processor.IterativeExecutor())
>>> out = run({"ZH": ["zh.root"]}, ZhAnalysisExample(model_dir="model"), treename="Events")
>>> out["ZH"]["score"][{"systematic": "normUp"}].sum()
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import hist
import numpy as np
from coffea import processor
from coffea.analysis_tools import Weights

from hep_aa.processors.scoring import Scorer, check_model, is_dask, score_events

__all__ = ["ZhAnalysisExample"]


def _dask_hist() -> Any:
    from hist.dask import Hist

    return Hist


class ZhAnalysisExample(processor.ProcessorABC):
    """Own cuts + hep_aa score + a ±5 % weight systematic.

    Parameters
    ----------
    model_dir : str
        Saved hep_aa detector trained on the ``vh`` features (checked here, loaded once per worker).
    trigger_pt : float
        At least one electron or muon above this pT [GeV] (a single-lepton trigger proxy).
    max_met : float
        MET below this [GeV] (Z(ℓℓ)h has no genuine MET; suppresses tt̄).
    norm_uncertainty : float
        Relative normalisation uncertainty (0.05 = ±5 %), booked as ``norm`` in Weights.
    """

    def __init__(
        self,
        *,
        model_dir: str,
        trigger_pt: float = 25.0,
        max_met: float = 60.0,
        norm_uncertainty: float = 0.05,
    ) -> None:
        check_model(model_dir)
        self.scorer = Scorer(model_dir)
        self.trigger_pt = trigger_pt
        self.max_met = max_met
        self.norm_uncertainty = norm_uncertainty

    def process(self, events: Any) -> dict[str, Any]:
        dask = is_dask(events)
        # 1. hep_aa: one score per event, None where no Z and h candidate
        scores = score_events(events, self.scorer)
        # 2. the analysis' own cuts
        trigger = ak.any(events.Muon.pt > self.trigger_pt, axis=1) | ak.any(
            events.Electron.pt > self.trigger_pt, axis=1
        )
        selected = trigger & (events.MET.pt < self.max_met) & ~ak.is_none(scores)
        # 3. weights with a ±5 % variation
        gen = ak.values_astype(events.genWeight, np.float64)
        weights = Weights(None if dask else len(events))
        if not dask:
            gen = np.asarray(ak.to_numpy(gen))
        weights.add(
            "norm",
            gen,
            weightUp=gen * (1 + self.norm_uncertainty),
            weightDown=gen * (1 - self.norm_uncertainty),
        )
        # 4. histograms on a systematic axis
        factory = _dask_hist() if dask else hist.Hist
        h = factory(
            hist.axis.StrCategory(["nominal", "normUp", "normDown"], name="systematic"),
            hist.axis.Regular(30, 0.0, 30.0, name="score", label="Anomaly score"),
            storage=hist.storage.Weight(),
        )
        score = ak.fill_none(scores[selected], 0.0)
        mask = selected if dask else np.asarray(ak.to_numpy(selected), dtype=bool)
        if not dask:
            score = np.asarray(ak.to_numpy(score))
        for syst in ("nominal", "normUp", "normDown"):
            w = weights.weight(None if syst == "nominal" else syst)[mask]
            h.fill(systematic=syst, score=score, weight=w)
        dataset = (getattr(events, "metadata", None) or {}).get("dataset", "unknown")
        return {dataset: {"score": h, "n_selected": ak.sum(selected) if dask else int(ak.sum(selected))}}

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator
