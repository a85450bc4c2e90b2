"""The workflow helpers, and the whole Snakemake DAG on a tiny configuration."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import hep_aa.workflow as W
from hep_aa.config import load_config

TINY = """\
version: 1
seeds: [0]
methods: [vae, aa-vae]
datasets:
  lhco: {n_background: 12, n_signal: 20, chunks: 2}
  mnist: {n_per_kind: 60}
  vh: {n_events: 80, n_anomaly: 30, chunks: 1}
  cicids: {path: CICIDS_DIR, known_family: DoS}
training: {epochs: 3, finetune_epochs: 2, device: cpu}
evaluation: {bootstrap: 5}
plots: {formats: [png]}
"""


def test_targets_and_arguments(repo_root: Path) -> None:
    cfg = load_config(repo_root / "workflows" / "config.yaml").to_dict()
    assert W.datasets(cfg) == ["lhco", "mnist", "vh"]  # cicids: skipped while its path is null
    assert W.known_types(cfg, "vh") == ["smeft_known"]
    assert "--unweight unseen" in W.vh_sample_args(cfg, "unseen", 0)
    assert W.vh_feature_args("sm") == "--label 0 --type background"
    assert "results/summary.md" in W.targets(cfg)
    assert "results/lhco/plots" in W.targets(cfg)
    assert W.known_types(cfg, "lhco") == ["wprime_known"]
    assert W.known_types(cfg, "mnist") == ["noise"]
    assert W.lhco_sample_args(cfg, "qcd", 0) == "--process qcd --n-events 1500"
    assert "--m-x 300 --m-y 300" in W.lhco_sample_args(cfg, "unseen", 1)
    seeds = {W.lhco_chunk_seed(cfg, s, c) for s in W.LHCO_SAMPLES for c in range(3)}
    assert len(seeds) == 9  # every chunk of every sample is an independent stream
    assert W.train_gpus(cfg) == 0
    assert Path(W.schema_path()).is_file()


def _write_cicids_csv(path: Path) -> None:
    """A small CICFlowMeter CSV with the real header quirks (leading spaces, duplicate column)."""
    import numpy as np

    rng = np.random.default_rng(0)
    header = " Destination Port, Flow Duration, Total Fwd Packets,Flow Bytes/s, Fwd Header Length, Fwd Header Length, Label"
    rows = []
    for label, n, scale in (("BENIGN", 300, 1.0), ("DoS Hulk", 60, 30.0), ("PortScan", 60, 0.05)):
        for _ in range(n):
            dur = rng.lognormal(8, 1) * scale
            rows.append(
                f"{rng.integers(1, 65535)},{dur:.0f},{rng.integers(1, 20)},{rng.lognormal(5, 1):.2f},40,40,{label}"
            )
    rows.append("80,10,1,Infinity,20,20,BENIGN")
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="cp1252")


def _snakemake(workdir: Path, repo_root: Path, *extra: str, capture: bool = True) -> subprocess.Popen[str]:
    exe = shutil.which("snakemake") or str(Path(sys.executable).with_name("snakemake"))
    cmd = [
        exe,
        "-s",
        str(repo_root / "Snakefile"),
        "--cores",
        "2",
        "--configfile",
        str(workdir / "tiny.yaml"),
        *extra,
    ]
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.Popen(
        cmd, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )


@pytest.mark.workflow
@pytest.mark.slow
def test_whole_dag_on_tiny_config_and_resume(tmp_path: Path, repo_root: Path) -> None:
    if shutil.which("snakemake") is None and not Path(sys.executable).with_name("snakemake").exists():
        pytest.skip("snakemake not installed")
    cicids = tmp_path / "cicids"
    cicids.mkdir()
    _write_cicids_csv(cicids / "Wednesday-workingHours.pcap_ISCX.csv")
    (tmp_path / "tiny.yaml").write_text(TINY.replace("CICIDS_DIR", str(cicids)))
    # start, interrupt once the first training job has begun, then resume
    proc = _snakemake(tmp_path, repo_root, capture=False)
    deadline = time.time() + 600
    while time.time() < deadline and not list((tmp_path / "results").glob("*/models/*")):
        if proc.poll() is not None:
            break
        time.sleep(1)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=120)
    done_before = {p for p in (tmp_path / "results").rglob("*") if p.is_file()}
    mtimes = {
        p: p.stat().st_mtime for p in done_before if p.suffix in (".h5", ".parquet") and "features" in str(p)
    }
    proc = _snakemake(tmp_path, repo_root, "--rerun-incomplete")
    out, _ = proc.communicate(timeout=1500)
    assert proc.returncode == 0, out[-3000:]
    expected = [
        "results/summary.md",
        "results/config.json",
        "results/lhco/events/qcd.h5",
        "results/lhco/features/train.parquet",
        "results/lhco/metrics.json",
        "results/lhco/table.md",
        "results/lhco/plots/roc_wprime_unseen.png",
        "results/lhco/plots/mjj_sculpting_aa-vae.png",
        "results/lhco/scores/aa-vae_seed0.parquet",
        "results/lhco/models/aa-vae_seed0/model.safetensors",
        "results/mnist/metrics.json",
        "results/mnist/plots/scores_vae.png",
        "results/vh/metrics.json",
        "results/vh/plots/roc_smeft_unseen.png",
        "results/vh/coffea_hists.root",
        "results/cicids/metrics.json",
        "results/cicids/plots/roc_PortScan.png",
    ]
    for rel in expected:
        path = tmp_path / rel
        assert path.is_file(), rel
        assert path.stat().st_size > 0, rel
    # finished feature tables were not redone on resume
    for path, mtime in mtimes.items():
        assert path.stat().st_mtime == mtime, path
    # no temporary half-written files left behind
    assert not list((tmp_path / "results").rglob(".*.tmp"))
    summary = (tmp_path / "results" / "summary.md").read_text()
    assert "## lhco" in summary
    assert "## mnist" in summary
    assert "## vh" in summary
    assert "## cicids" in summary
