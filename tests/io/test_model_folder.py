"""Model folders: written as a unit, validated against the model.json schema before use."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hep_aa.exceptions import ModelError, OutputError
from hep_aa.io.artifacts import MODEL_SIDECAR, MODEL_WEIGHTS, load_model_folder, save_model_folder
from hep_aa.io.model_schema import validate_model_meta


def _meta(n_features: int = 3, **params: Any) -> dict[str, Any]:
    return {
        "hep_aa_version": "test",
        "class": "AnomalyAwareVAE",
        "hyperparameters": {"hidden": [4], "latent_dim": 2, "learning_rate": 1e-3, "seed": 0, **params},
        "feature_names": [f"f{i}" for i in range(n_features)],
        "scaler": {"kind": "standard", "center": [0.0] * n_features, "scale": [1.0] * n_features},
        "history": {},
        "provenance": {},
    }


def _arrays(n_features: int = 3) -> dict[str, np.ndarray]:
    return {"w1": np.ones((4, n_features), np.float32), "w2": np.ones((2, 4), np.float32)}


def test_round_trip_and_save_id(tmp_path: Path) -> None:
    folder = save_model_folder(tmp_path / "m", _arrays(), _meta())
    assert sorted(p.name for p in folder.iterdir()) == sorted([MODEL_WEIGHTS, MODEL_SIDECAR])
    meta, arrays = load_model_folder(folder)
    assert meta["format_version"] == 2
    assert len(meta["save_id"]) == 32
    np.testing.assert_array_equal(arrays["w1"], np.ones((4, 3)))
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no temp or old folder left


def test_resave_replaces_the_folder_as_a_unit(tmp_path: Path) -> None:
    first = save_model_folder(tmp_path / "m", _arrays(), _meta())
    old_id = load_model_folder(first)[0]["save_id"]
    save_model_folder(tmp_path / "m", {k: 2 * v for k, v in _arrays().items()}, _meta())
    meta, arrays = load_model_folder(tmp_path / "m")
    assert meta["save_id"] != old_id
    assert arrays["w1"][0, 0] == 2.0
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_weights_and_json_from_different_saves_are_refused(tmp_path: Path) -> None:
    a = save_model_folder(tmp_path / "a", _arrays(), _meta())
    b = save_model_folder(tmp_path / "b", _arrays(), _meta())
    (a / MODEL_WEIGHTS).write_bytes((b / MODEL_WEIGHTS).read_bytes())
    with pytest.raises(ModelError, match="come from different saves"):
        load_model_folder(a)


def test_refuses_to_replace_a_folder_with_other_files(tmp_path: Path) -> None:
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "thesis.tex").write_text("precious")
    with pytest.raises(OutputError, match=r"holds \['thesis.tex'\]"):
        save_model_folder(tmp_path / "results", _arrays(), _meta())
    assert (tmp_path / "results" / "thesis.tex").read_text() == "precious"
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        save_model_folder(tmp_path / "file", _arrays(), _meta())


def _tamper(folder: Path, edit: Any) -> None:
    meta = json.loads((folder / MODEL_SIDECAR).read_text())
    edit(meta)
    (folder / MODEL_SIDECAR).write_text(json.dumps(meta))


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda m: m.pop("hyperparameters"), "'hyperparameters'"),
        (lambda m: m.update(hyperparameters=[1, 2]), "'hyperparameters'"),
        (lambda m: m.update({"class": "os.system"}), "'class'"),
        (lambda m: m.update({"class": "PlainVAE; import os"}), "'class'"),
        (lambda m: m.update(format="pickle"), "'format'"),
        (lambda m: m.update(format_version=1), "format v1"),
        (lambda m: m.pop("save_id"), "'save_id'"),
        (lambda m: m.update(feature_names=[]), "'feature_names'"),
        (lambda m: m.update(feature_names=["a", "a", "b"]), "'feature_names'"),
        (lambda m: m["scaler"].update(scale=[1.0, 0.0, 1.0]), "'scaler.scale'"),
        (lambda m: m["scaler"].update(center=[0.0]), "'scaler.center'"),
        (lambda m: m["hyperparameters"].update(hidden=[10**9]), "'hyperparameters.hidden'"),
        (lambda m: m["hyperparameters"].update(hidden="64"), "'hyperparameters.hidden'"),
        (lambda m: m["hyperparameters"].update(latent_dim=-1), "'hyperparameters.latent_dim'"),
        (
            lambda m: m["hyperparameters"].update(learning_rate=float("nan")),
            "'hyperparameters.learning_rate'",
        ),
        (lambda m: m["hyperparameters"].update(seed="0"), "'hyperparameters.seed'"),
        (lambda m: m["hyperparameters"].update(n_estimators=10_000_000), "'hyperparameters.n_estimators'"),
        (lambda m: m["hyperparameters"].update(newer_option={"nested": 1}), "'hyperparameters.newer_option'"),
        (lambda m: m.update(history=[]), "'history'"),
    ],
)
def test_tampered_sidecar_is_one_model_error(tmp_path: Path, edit: Any, field: str) -> None:
    folder = save_model_folder(tmp_path / "m", _arrays(), _meta())
    _tamper(folder, edit)
    with pytest.raises(ModelError, match=rf"{MODEL_SIDECAR}.*{field}") as info:
        load_model_folder(folder)
    assert "\n" not in str(info.value)


def test_hidden_widths_larger_than_the_weights_are_refused(tmp_path: Path) -> None:
    folder = save_model_folder(tmp_path / "m", _arrays(), _meta())
    _tamper(folder, lambda m: m["hyperparameters"].update(hidden=[4096, 4096]))
    with pytest.raises(ModelError, match="imply at least"):
        load_model_folder(folder)


def test_isolation_forest_limits(tmp_path: Path) -> None:
    meta = _meta(2, n_estimators=50, max_samples="auto")
    meta["class"] = "IsolationForestDetector"
    folder = save_model_folder(tmp_path / "f", {"train": np.zeros((10, 2))}, meta)
    assert load_model_folder(folder)[0]["hyperparameters"]["n_estimators"] == 50
    _tamper(folder, lambda m: m["hyperparameters"].update(max_samples=500))
    with pytest.raises(ModelError, match="max_samples 500 exceeds"):
        load_model_folder(folder)


def test_nan_weights_and_corrupt_files(tmp_path: Path) -> None:
    arrays = _arrays()
    arrays["w2"][0, 0] = np.nan
    folder = save_model_folder(tmp_path / "m", arrays, _meta())
    with pytest.raises(ModelError, match="NaN/Inf in tensor 'w2'"):
        load_model_folder(folder)
    (folder / MODEL_WEIGHTS).write_bytes(b"\x80\x04pickle")
    with pytest.raises(ModelError, match="not a valid safetensors"):
        load_model_folder(folder)
    (folder / MODEL_SIDECAR).write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_model_folder(folder)
    with pytest.raises(ModelError, match="no such model folder"):
        load_model_folder(tmp_path / "missing")


def test_unknown_plain_hyperparameters_are_accepted() -> None:
    meta = _meta(newer_option="best", newer_list=[1, 2])
    meta.update(format="hep_aa.detector", format_version=2, save_id="a" * 32)
    assert validate_model_meta(meta, "model.json") is meta


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigkill_between_weights_and_json_keeps_the_old_model(tmp_path: Path) -> None:
    """Kill the writer after the weights, before the JSON: the old model stays whole."""
    target = tmp_path / "model"
    old = save_model_folder(target, _arrays(), _meta())
    old_id = load_model_folder(old)[0]["save_id"]
    script = textwrap.dedent(
        f"""
        import json, sys, time
        import numpy as np
        from hep_aa.io.artifacts import save_model_folder

        def stall(*args, **kwargs):  # the weights are on disk; hang before the JSON
            print("weights written", flush=True)
            time.sleep(120)

        json.dump = stall
        arrays = {{"w1": np.full((4, 3), 7.0, np.float32), "w2": np.ones((2, 4), np.float32)}}
        meta = json.loads({json.dumps(json.dumps(_meta()))})
        save_model_folder({str(target)!r}, arrays, meta)
        """
    )
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "weights written"
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    meta, arrays = load_model_folder(target)
    assert meta["save_id"] == old_id
    assert arrays["w1"][0, 0] == 1.0
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "model"]
    assert all(name.startswith(".model.") and name.endswith(".tmp") for name in leftovers)
