from __future__ import annotations

import os
import pickle
import warnings
from pathlib import Path
from typing import Any

import awkward as ak
import cloudpickle
import numpy as np
import pytest
import uproot

from hep_aa.cli import main
from hep_aa.exceptions import ModelError
from hep_aa.features.selection import ObjectSelection
from hep_aa.generate.vh import generate_vh
from hep_aa.io.artifacts import read_table
from hep_aa.processors import AnomalyScoreProcessor, Scorer, score_events
from hep_aa.processors.example import ZhAnalysisExample

pytestmark = pytest.mark.filterwarnings(
    # coffea's NanoAODSchema warns about cross-reference branches a minimal file lacks, and
    # about the real samples' Photon_mass/charge branches it replaces
    "ignore:Missing cross-reference index:RuntimeWarning",
    "ignore:Branch Photon_:RuntimeWarning",
)

#: No ID, no cleaning, low pT: real samples then have scorable events to compare.
LOOSE = ObjectSelection(
    electron_pt=5,
    muon_pt=3,
    electron_id="none",
    muon_id="none",
    muon_iso=None,
    jet_pt=15,
    jet_id="none",
    jet_lepton_dr=0.0,
)
REAL = ("nanoAOD_2015_CMS_Open_Data_ttbar.root", "nano_dy.root")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("proc")
    events = d / "zh.root"
    generate_vh(events, 300, seed=21, batch_size=300)
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
    return {"events": events, "model": model, "dir": d, "table": table}


def _events(path: Path, mode: str, dataset: str = "d") -> Any:
    from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

    return NanoEventsFactory.from_root(
        {str(path): "Events"}, schemaclass=NanoAODSchema, mode=mode, metadata={"dataset": dataset}
    ).events()


def _samples(setup: dict[str, Path]) -> list[Path]:
    shared = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "root"
    return [setup["events"], *(shared / n for n in REAL if (shared / n).is_file())]


def _assert_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    for key in ("score", "score_vs_mzh", "cutflow", "cutflow_events"):
        assert list(a[key].axes) == list(b[key].axes), key
        np.testing.assert_array_equal(a[key].values(flow=True), b[key].values(flow=True), err_msg=key)
        np.testing.assert_allclose(a[key].variances(flow=True), b[key].variances(flow=True), rtol=1e-12)
    assert float(a["sumw"]) == pytest.approx(float(b["sumw"]), rel=1e-12)
    assert int(a["n_events"]) == int(b["n_events"])


@pytest.mark.parametrize("selection", [None, LOOSE], ids=["cms-default", "loose"])
def test_dask_mode_equals_eager_on_real_nanoaod_and_generated_vh(
    setup: dict[str, Path], selection: Any
) -> None:
    pytest.importorskip("dask_awkward")
    import dask

    proc = AnomalyScoreProcessor(model_dir=str(setup["model"]), selection=selection, min_pt_z=20.0)
    scored = 0
    for path in _samples(setup):
        eager = proc.process(_events(path, "eager"))["d"]
        lazy = proc.process(_events(path, "dask"))["d"]
        assert type(lazy["score"]).__module__.startswith("hist.dask")
        (computed,) = dask.compute(lazy, scheduler="sync")
        _assert_same(eager, computed)
        labels = list(eager["cutflow_events"].axes[0])
        scored += eager["cutflow_events"].values()[labels.index("scored")]
    assert scored > 0


def test_cli_iterative_futures_dask_agree_on_real_and_generated(setup: dict[str, Path]) -> None:
    files = _samples(setup)
    names = ["ZH", "TTBAR", "DY"][: len(files)]
    fileset = [f"{n}={p}" for n, p in zip(names, files, strict=True)]
    executors = ["iterative", "futures"]
    try:
        import dask_awkward  # noqa: F401

        executors.append("dask")
    except ImportError:
        pass
    outputs = {}
    for executor in executors:
        out = setup["dir"] / f"h_{executor}.root"
        args = ["coffea-score", str(setup["model"]), *fileset, "--executor", executor]
        assert main([*args, "--workers", "2", "--chunksize", "100", "-o", str(out)]) == 0
        with uproot.open(out) as f:
            outputs[executor] = {k: f[k].values() for k in f.keys(cycle=False) if hasattr(f[k], "values")}
            labels = str(f["ZH/cutflow_labels"]).split(";")
    for executor in executors[1:]:
        assert outputs[executor].keys() == outputs["iterative"].keys()
        for key, values in outputs["iterative"].items():
            np.testing.assert_array_equal(outputs[executor][key], values, err_msg=f"{executor} {key}")
    assert labels == [
        "all events",
        "two selected leptons",
        "Z candidate (OSSF pair)",
        "two selected jets",
        "scored",
    ]
    cut = outputs["iterative"]["ZH/cutflow_events"]
    assert cut[0] == 300
    assert 0 < cut[-1] < 300
    assert "ZH/score_generatorUp" not in outputs["iterative"]  # no variation booked: nominal only


def test_same_selection_and_features_as_hep_aa_features_vh(setup: dict[str, Path]) -> None:
    from hep_aa.processors import vh_event_features

    feats, _ = vh_event_features(_events(setup["events"], "eager"))
    feats = feats[~ak.is_none(feats)]
    table = read_table(setup["table"])
    assert len(feats) == len(table.features)
    np.testing.assert_allclose(
        ak.to_numpy(feats.m_zh), table.features[:, list(table.feature_names).index("m_zh")], rtol=1e-6
    )


def test_default_selection_cleans_jets_from_leptons_on_drell_yan(shared_data: Path) -> None:
    from hep_aa.features.selection import select_objects
    from hep_aa.processors import event_model

    events = _events(shared_data / "root" / "nano_dy.root", "eager")
    model = event_model(events)
    assert {"id", "iso"} <= set(model.leptons.fields)
    assert {"btag_score", "jet_id"} <= set(model.jets.fields)
    sel = select_objects(model)
    pair = ak.cartesian({"j": sel.jets, "l": sel.leptons}, nested=True)
    dphi = (pair.j.phi - pair.l.phi + np.pi) % (2 * np.pi) - np.pi
    assert ak.all(np.hypot(pair.j.eta - pair.l.eta, dphi) > 0.4)
    assert ak.all(sel.jets.pt > 30)
    assert ak.all(abs(sel.jets.eta) < 2.5)
    mu = sel.leptons[abs(sel.leptons.pdgId) == 13]
    assert ak.all(mu.id == 4)
    assert ak.all(mu.iso < 0.15)
    # without cleaning, lepton-jets make "h" candidates out of Drell-Yan events (the old bug)
    loose = select_objects(model, ObjectSelection(jet_lepton_dr=0.0, jet_pt=15))
    assert ak.sum(ak.num(loose.jets)) > ak.sum(ak.num(sel.jets))


def test_score_events_aligned_with_events(setup: dict[str, Path]) -> None:
    events = _events(setup["events"], "eager")
    scores = score_events(events, str(setup["model"]))
    assert len(scores) == len(events)
    assert str(ak.type(scores)).endswith("?float64")
    proc = AnomalyScoreProcessor(model_dir=str(setup["model"]))
    out = proc.process(events)["d"]
    labels = list(out["cutflow_events"].axes[0])
    assert ak.sum(~ak.is_none(scores)) == out["cutflow_events"].values()[labels.index("scored")]
    # the composition API gives the processor's numbers
    s = ak.to_numpy(scores[~ak.is_none(scores)])
    np.testing.assert_allclose(out["score"][{"systematic": "nominal"}].values(flow=True).sum(), len(s))


def test_score_binning_from_the_training_scores(setup: dict[str, Path]) -> None:
    from hep_aa.detector import load_detector

    proc = AnomalyScoreProcessor(model_dir=str(setup["model"]), n_score_bins=20)
    table = read_table(setup["table"])
    train = load_detector(setup["model"]).decision_function(table.features)
    edges = np.asarray(proc.score_edges)
    assert edges[0] == pytest.approx(train.min())
    assert edges[20] == pytest.approx(train.max())
    counts, _ = np.histogram(train, edges[:21])
    assert counts.min() >= len(train) // 20 - 2  # equal-population bulk bins
    assert len(edges) == 26
    assert np.all(np.diff(edges) > 0)
    from hep_aa.processors.vh import training_scores

    stored = training_scores(load_detector(setup["model"]), setup["model"])
    assert len(stored) == 201  # the saved model's quantiles, no need for the training table
    fixed = AnomalyScoreProcessor(model_dir=str(setup["model"]), score_bins=(10, 0.0, 5.0))
    assert fixed.score_edges == tuple(np.linspace(0, 5, 11))


def test_model_feature_mismatch_is_a_model_error_at_construction(
    setup: dict[str, Path], tmp_path: Path
) -> None:
    from hep_aa.detector import PlainVAE

    other = tmp_path / "other"
    PlainVAE(epochs=1, seed=0, device="cpu").fit(
        np.random.default_rng(0).normal(size=(50, 3)), feature_names=["a", "b", "c"]
    ).save(other)
    with pytest.raises(ModelError, match=r"trained on features \['a', 'b', 'c'\]"):
        AnomalyScoreProcessor(model_dir=str(other))
    with pytest.raises(ModelError, match="not found"):
        AnomalyScoreProcessor(model_dir=str(tmp_path / "nope"))


def test_cli_errors_are_one_line(
    setup: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], shared_data: Path
) -> None:
    from hep_aa.detector import PlainVAE

    other = tmp_path / "other"
    PlainVAE(epochs=1, seed=0, device="cpu").fit(
        np.random.default_rng(0).normal(size=(50, 3)), feature_names=["a", "b", "c"]
    ).save(other)
    truncated = tmp_path / "truncated.root"
    data = setup["events"].read_bytes()
    # a quarter: the reconstructed branches the processor reads end before the middle of the
    # file (most of it is the 105 SMEFT weight-component branches)
    truncated.write_bytes(data[: len(data) // 4])
    model = str(setup["model"])
    cases = {
        "truncated": ([model, f"ZH={truncated}"], "truncated"),
        "mismatch": ([str(other), f"ZH={setup['events']}"], "trained on features"),
        "treename": ([model, f"ZH={setup['events']}", "--treename", "Nope"], "no tree 'Nope'"),
        "missing": ([model, f"ZH={tmp_path / 'missing.root'}"], "file not found"),
        "delphes": ([model, f"D={shared_data / 'root' / 'delphes.root'}"], "--schema delphes"),
    }
    for name, (args, message) in cases.items():
        out = tmp_path / f"out_{name}.root"
        code = main(["coffea-score", *args, "--executor", "iterative", "-o", str(out)])
        err = capsys.readouterr().err.strip()
        assert code == 2, name
        assert len(err.splitlines()) == 1, (name, err)
        assert message in err, (name, err)
        assert "Traceback" not in err
        assert not out.exists()


def test_non_ascii_path_works(setup: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "données ü"
    folder.mkdir()
    path = folder / "zh événements.root"
    path.write_bytes(setup["events"].read_bytes())
    out = folder / "h.root"
    assert (
        main(["coffea-score", str(setup["model"]), f"ZH={path}", "--executor", "iterative", "-o", str(out)])
        == 0
    )
    with uproot.open(out) as f:
        assert f["ZH/cutflow_events"].values()[0] == 300


class _CountingProcessor(AnomalyScoreProcessor):
    def process(self, events: Any) -> dict[str, Any]:
        from hep_aa.processors.scoring import LOADS

        out = super().process(events)
        out["loads"] = {os.getpid(): [LOADS["count"]]}  # lists concatenate when coffea merges
        return out


def test_model_loaded_once_per_worker(setup: dict[str, Path]) -> None:
    from coffea import processor

    proc = _CountingProcessor(model_dir=str(setup["model"]))
    run = processor.Runner(executor=processor.FuturesExecutor(workers=2, status=False), chunksize=30)
    out = run({"ZH": [str(setup["events"])]}, proc, treename="Events")
    assert out["ZH"]["cutflow_events"].values()[0] == 300  # 10 chunks
    loads = out["loads"]
    assert sum(len(v) for v in loads.values()) == 10
    for pid, counts in loads.items():  # the count never grows after a worker's first chunk
        assert len(set(counts)) == 1, (pid, counts)
        assert counts[0] <= 2


def test_pickle_round_trips_without_the_model(setup: dict[str, Path]) -> None:
    proc = AnomalyScoreProcessor(model_dir=str(setup["model"]))
    for dump, load in ((pickle.dumps, pickle.loads), (cloudpickle.dumps, cloudpickle.loads)):
        fresh = load(dump(proc))
        assert fresh.model_dir == proc.model_dir
        assert fresh.score_edges == proc.score_edges
    assert len(pickle.dumps(proc)) < 4000  # the model is not in the pickle
    scorer = pickle.loads(pickle.dumps(Scorer(str(setup["model"]))))
    np.testing.assert_array_equal(scorer(np.zeros((3, 12))), proc.scorer(np.zeros((3, 12))))


def test_example_processor_composes_cuts_and_a_five_percent_systematic(setup: dict[str, Path]) -> None:
    proc = ZhAnalysisExample(model_dir=str(setup["model"]))
    out = proc.process(_events(setup["events"], "eager"))["d"]
    h = out["score"]
    nominal = h[{"systematic": "nominal"}].values(flow=True)
    assert nominal.sum() == out["n_selected"] > 0
    np.testing.assert_allclose(h[{"systematic": "normUp"}].values(flow=True), 1.05 * nominal, rtol=1e-12)
    np.testing.assert_allclose(h[{"systematic": "normDown"}].values(flow=True), 0.95 * nominal, rtol=1e-12)
    all_scored = ak.sum(~ak.is_none(score_events(_events(setup["events"], "eager"), str(setup["model"]))))
    assert out["n_selected"] < all_scored  # its own MET/trigger cuts removed some
    try:
        import dask
        import dask_awkward  # noqa: F401
    except ImportError:  # dask mode needs coffea[dask-awkward]
        return
    (lazy,) = dask.compute(proc.process(_events(setup["events"], "dask"))["d"], scheduler="sync")
    np.testing.assert_array_equal(lazy["score"].values(flow=True), h.values(flow=True))


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
    assert out["cutflow_events"].values()[0] == 25 == out["n_events"]


@pytest.mark.parametrize("name", REAL)
def test_features_vh_reader_applies_the_processors_selection(shared_data: Path, name: str) -> None:
    """``hep-aa features vh`` (uproot reader → common event model) and the coffea processor
    (NanoEvents → event_model) see the same lepton ID/isolation, jet ID and b-tag score on real
    NanoAOD, so the selection gives the same cutflow and the same candidates."""
    import awkward as ak

    from hep_aa.features.higgs import vh_candidates
    from hep_aa.io.root import iter_root_events
    from hep_aa.processors.scoring import event_model

    path = shared_data / "root" / name
    reader = ak.concatenate(list(iter_root_events(path)))
    assert {"id", "iso"} <= set(reader.leptons.fields)
    assert {"jet_id", "btag_score"} <= set(reader.jets.fields)
    via_reader = vh_candidates(reader)
    via_processor = vh_candidates(event_model(_events(path, "eager")))
    for (step, a), b in zip(via_reader[1].items(), via_processor[1].values(), strict=True):
        assert ak.to_list(a) == ak.to_list(b), step
    assert ak.to_list(ak.is_none(via_reader[0])) == ak.to_list(ak.is_none(via_processor[0]))


def test_vh_table_hints_reach_the_model(setup: dict[str, Path]) -> None:
    """``features vh`` records the small-table training hints; ``train`` applies them where the
    config leaves the schema default (batch size, AA fine-tune length and margin)."""
    import json

    from hep_aa.io.artifacts import read_table

    hints = read_table(setup["table"]).metadata["model_hints"]
    assert hints == {"batch_size": 64, "finetune_epochs": 60, "margin": 16.0}
    params = json.loads((setup["model"] / "model.json").read_text())["hyperparameters"]
    assert (params["batch_size"], params["finetune_epochs"], params["margin"]) == (64, 60, 16.0)


def test_weight_branch_multiplies_the_generator_weight(setup: dict[str, Path]) -> None:
    """The processor's event weight is genWeight x the --weight branch, as in ``features vh``."""
    from hep_aa.processors import event_model

    events = _events(setup["events"], "eager")
    factor = np.linspace(-1.0, 2.0, len(events))  # a SMEFT weight ratio may be negative
    events["wfactor"] = ak.Array(factor)
    events["genWeight"] = ak.Array(np.linspace(0.5, 1.5, len(events)).astype(np.float32))
    model = event_model(events, weight="wfactor")
    expected = ak.to_numpy(events.genWeight).astype(np.float64) * factor
    np.testing.assert_allclose(ak.to_numpy(model.weight), expected, rtol=1e-12)
    np.testing.assert_allclose(
        ak.to_numpy(event_model(events).weight), ak.to_numpy(events.genWeight).astype(np.float64)
    )
