from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import cloudpickle
import numpy as np
import pytest
import uproot

from hep_aa.cli import main
from hep_aa.generate.vh import generate_vh
from hep_aa.processors import AnomalyScoreProcessor, LazyScorer

pytestmark = pytest.mark.filterwarnings(
    # coffea's NanoAODSchema warns about cross-reference branches a minimal file lacks
    "ignore:Missing cross-reference index:RuntimeWarning"
)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("proc")
    events = d / "zh.root"
    generate_vh(events, 120, seed=21, batch_size=200)
    table = d / "zh.parquet"
    assert main(["features", "vh", str(events), "-o", str(table)]) == 0
    config = d / "c.yaml"
    config.write_text("version: 1\ntraining: {epochs: 3, device: cpu}\n")
    model = d / "model"
    assert (
        main(
            ["train", "--features", str(table), "--method", "vae", "--config", str(config), "-o", str(model)]
        )
        == 0
    )
    return {"events": events, "model": model, "dir": d}


def test_three_executors_give_identical_histograms(setup: dict[str, Path]) -> None:
    outputs = {}
    for executor in ("iterative", "futures", "dask"):
        out = setup["dir"] / f"h_{executor}.root"
        args = ["coffea-score", str(setup["model"]), f"ZH={setup['events']}", "--executor", executor]
        assert main([*args, "--workers", "2", "--chunksize", "50", "-o", str(out)]) == 0
        with uproot.open(out) as f:
            outputs[executor] = {k: f[k].values() for k in ("ZH/score", "ZH/score_vs_mzh", "ZH/cutflow")}
            labels = str(f["ZH/cutflow_labels"])
    for key in outputs["iterative"]:
        np.testing.assert_array_equal(outputs["futures"][key], outputs["iterative"][key])
        np.testing.assert_array_equal(outputs["dask"][key], outputs["iterative"][key])
    assert labels.split(";")[:2] == ["all events", "Z and h candidates"]
    cut = outputs["iterative"]["ZH/cutflow"]
    assert cut[0] == 120
    assert 0 < cut[1] <= 120


def test_pickle_round_trips_with_and_without_model(setup: dict[str, Path]) -> None:
    proc = AnomalyScoreProcessor(model_dir=str(setup["model"]))
    for dump, load in ((pickle.dumps, pickle.loads), (cloudpickle.dumps, cloudpickle.loads)):
        fresh = load(dump(proc))
        assert fresh.model_dir == proc.model_dir
        assert not fresh.scorer.loaded
    scores = proc.scorer(np.zeros((3, 12)))
    assert proc.scorer.loaded
    blob = pickle.dumps(proc)
    assert len(blob) < 2000  # the model is not in the pickle
    again = cloudpickle.loads(cloudpickle.dumps(proc))
    assert not again.scorer.loaded
    np.testing.assert_array_equal(again.scorer(np.zeros((3, 12))), scores)
    assert isinstance(pickle.loads(pickle.dumps(LazyScorer(str(setup["model"])))), LazyScorer)


def test_only_needed_columns_are_read(setup: dict[str, Path]) -> None:
    from coffea import processor
    from coffea.nanoevents import NanoAODSchema

    run = processor.Runner(
        executor=processor.IterativeExecutor(status=False), schema=NanoAODSchema, savemetrics=True
    )
    _, metrics = run(
        {"ZH": [str(setup["events"])]},
        AnomalyScoreProcessor(model_dir=str(setup["model"])),
        treename="Events",
    )
    columns = {c.rsplit("-", 1)[0] for c in metrics["columns"]}
    with uproot.open(setup["events"]) as f:
        all_branches = set(f["Events"].keys())
    assert columns <= all_branches | {"nElectron", "nMuon", "nJet"}
    assert "Jet_btagDeepFlavB" in columns
    assert not any(c.startswith(("SMEFT", "Gen", "MET")) for c in columns)
    assert len(columns) < len(all_branches) / 3


def test_plain_callable_on_eager_events_and_real_cms_sample(
    setup: dict[str, Path], shared_data: Path
) -> None:
    from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

    proc = AnomalyScoreProcessor(model_dir=str(setup["model"]), min_pt_z=50.0)
    path = shared_data / "root" / "nanoAOD_2015_CMS_Open_Data_ttbar.root"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        events = NanoEventsFactory.from_root(
            {str(path): "Events"}, schemaclass=NanoAODSchema, mode="eager", metadata={"dataset": "ttbar"}
        ).events()
    out = proc.process(events)
    cut = out["ttbar"]["cutflow"]
    labels = list(cut.axes[0])
    assert cut.values()[labels.index("all events")] == 200
    # events failing the selection are counted, not crashing the job
    assert cut.values()[labels.index("Z and h candidates")] < 200
    assert "pT(Z) > 50 GeV" in labels


def test_delphes_schema_events(setup: dict[str, Path], shared_data: Path) -> None:
    from coffea.nanoevents import DelphesSchema, NanoEventsFactory

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        events = NanoEventsFactory.from_root(
            {str(shared_data / "root" / "delphes.root"): "Delphes"},
            schemaclass=DelphesSchema,
            mode="eager",
            metadata={"dataset": "delphes"},
        ).events()
    out = AnomalyScoreProcessor(model_dir=str(setup["model"])).process(events)["delphes"]
    labels = list(out["cutflow"].axes[0])
    assert out["cutflow"].values()[labels.index("all events")] == 25
    assert out["n_events"] == 25
