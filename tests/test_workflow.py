"""The workflow helpers, and the whole Snakemake DAG on a tiny configuration."""

from __future__ import annotations

import json
import logging
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

# An override of the default (workflows/config.yaml): no `version:`, only what differs.
TINY = """\
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
    assert "--unweight czbox" in W.vh_sample_args(cfg, "unseen", 0)
    assert "--pthat-min 150" in W.vh_sample_args(cfg, "sm", 0)
    assert "--unweight" not in W.vh_sample_args(cfg, "sm", 0)
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
    chunks = [f"anomaly/results/vh/events/{s}_chunk{c}.root" for s in W.VH_SAMPLES for c in range(2)]
    fileset = W.coffea_fileset(chunks)  # from the rule's input, so a module prefix is kept
    assert fileset.split()[0] == (
        "background=anomaly/results/vh/events/sm_chunk0.root,anomaly/results/vh/events/sm_chunk1.root"
    )
    assert fileset.split()[2].startswith("smeft_unseen=anomaly/results/vh/events/unseen_chunk0.root")


def test_default_file_is_the_schema_defaults(repo_root: Path) -> None:
    """The embedded default adds nothing to the schema's defaults, so a module (which skips
    the default file) gets the same configuration as a standalone run."""
    assert load_config(repo_root / "workflows" / "config.yaml") == load_config({})


def test_resolve_names_the_users_file(tmp_path: Path, repo_root: Path) -> None:
    from hep_aa.exceptions import ConfigError

    bad = tmp_path / "my.yaml"
    bad.write_text("training: {devise: cuda}\n")
    default = repo_root / "workflows" / "config.yaml"
    files = W.own_configfiles([str(bad), str(default)], default)
    assert files == [str(bad), str(default)]
    with pytest.raises(ConfigError, match=rf"^{bad}: training\.devise: "):
        W.resolve({"training": {"devise": "cuda"}}, files)
    # as a module the host's files hold the host's configuration: not ours to check
    assert W.own_configfiles([str(bad)], default) == []
    resolved = W.resolve({"training": {"device": "cuda"}})
    assert resolved["training"]["device"] == "cuda"
    assert resolved["version"] == 1


def test_verbose_logs_are_hep_aas_own(repo_root: Path) -> None:
    """The rules run ``hep-aa -v``: INFO for hep_aa's messages, third-party libraries stay at
    WARNING (matplotlib's mathtext alone wrote 126 INFO lines into one plot log)."""
    code = (
        "import logging, sys\n"
        "from hep_aa.cli.main import main\n"
        "assert main([sys.argv[1], 'config', 'validate', sys.argv[2]]) == 0\n"
        "print(logging.getLogger('hep_aa.cli').getEffectiveLevel(),"
        " logging.getLogger('matplotlib.mathtext').getEffectiveLevel())\n"
    )
    default = str(repo_root / "workflows" / "config.yaml")
    levels = {}
    for flag in ("-v", "-vv"):
        out = subprocess.run([sys.executable, "-c", code, flag, default], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        levels[flag] = tuple(int(x) for x in out.stdout.split()[-2:])
    assert levels["-v"] == (logging.INFO, logging.WARNING)
    assert levels["-vv"] == (logging.DEBUG, logging.DEBUG)


def test_resolve_reads_config_option_strings() -> None:
    """``snakemake --config 'training={patience: 3}'`` gives nested values as strings."""
    resolved = W.resolve(
        {
            "seeds": ["4", "5"],
            "training": {"patience": "3", "learning_rate": "1e-3", "device": "cpu"},
            "datasets": {"lhco": {"enabled": "false", "path": "null"}, "vh": {"point": {"czz": "0.5"}}},
            "plots": {"label": "2024"},  # a string where the schema wants one stays a string
        }
    )
    assert resolved["seeds"] == [4, 5]
    assert resolved["training"]["patience"] == 3
    assert resolved["training"]["learning_rate"] == 0.001
    assert resolved["datasets"]["lhco"]["enabled"] is False
    assert resolved["datasets"]["lhco"]["path"] is None
    assert resolved["datasets"]["vh"]["point"] == {"czz": 0.5}
    assert resolved["plots"]["label"] == "2024"


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


def _snakemake_exe() -> str:
    exe = shutil.which("snakemake") or str(Path(sys.executable).with_name("snakemake"))
    if not Path(exe).exists():
        pytest.skip("snakemake not installed")
    return exe


def _snakemake(workdir: Path, repo_root: Path, *extra: str, capture: bool = True) -> subprocess.Popen[str]:
    """The README's command, ``snakemake --cores 2 --configfile my.yaml``, run on this
    checkout's Snakefile from another working directory (its default profile applies)."""
    # targets and options first: --configfile takes every word after it
    cmd = [
        _snakemake_exe(),
        *extra,
        "-s",
        str(repo_root / "Snakefile"),
        "--cores",
        "2",
        "--configfile",
        str(workdir / "tiny.yaml"),
    ]
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        cmd, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True, env=env
    )


@pytest.mark.workflow
@pytest.mark.slow
def test_whole_dag_on_tiny_config_and_resume(tmp_path: Path, repo_root: Path) -> None:
    _snakemake_exe()
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
    # resume with the README's own command: the default profile sets rerun-incomplete
    proc = _snakemake(tmp_path, repo_root)
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
    # logs carry hep_aa's messages, not third-party banners or floods of harmless warnings
    logs = {p: p.read_text(errors="replace") for p in (tmp_path / "logs").rglob("*.log")}
    assert logs
    for path, text in logs.items():
        assert "FastJet release" not in text, path
        assert "Missing cross-reference index" not in text, path
        assert "INFO matplotlib" not in text, path  # `hep-aa -v` is hep_aa's INFO, not everyone's
    # outputs are written with the user's umask (group/other readable under umask 022)
    if os.umask(0o022) == 0o022:
        for rel in ("results/config.json", "results/lhco/metrics.json", "results/summary.md"):
            assert (tmp_path / rel).stat().st_mode & 0o044 == 0o044, rel


# A partial override: no version, one small dataset (a CICIDS-like CSV: its table carries no
# model hints that would take precedence over the config) and one method.
OVERRIDE = """\
seeds: [0]
methods: [vae]
datasets:
  lhco: {enabled: false}
  vh: {enabled: false}
  mnist: {enabled: false}
  cicids: {path: CICIDS_DIR}
training: {device: cpu, epochs: EPOCHS, batch_size: 64, learning_rate: 0.002}
evaluation: {bootstrap: 5}
plots: {formats: [png]}
"""


def _cicids_dir(tmp_path: Path) -> Path:
    cicids = tmp_path / "cicids"
    cicids.mkdir(exist_ok=True)
    _write_cicids_csv(cicids / "Wednesday-workingHours.pcap_ISCX.csv")
    return cicids


def _hyperparameters(model: Path) -> dict:
    return json.loads((model / "model.json").read_text())["hyperparameters"]


@pytest.mark.workflow
@pytest.mark.slow
def test_configfile_override_reaches_the_trained_model(tmp_path: Path, repo_root: Path) -> None:
    """``snakemake --configfile my.yaml`` (and ``--config``) overrides reach results/config.json
    and the trained model; a changed override retrains."""
    model = "results/cicids/models/vae_seed0"
    override = OVERRIDE.replace("CICIDS_DIR", str(_cicids_dir(tmp_path)))
    (tmp_path / "tiny.yaml").write_text(override.replace("EPOCHS", "2"))
    out, _ = _snakemake(tmp_path, repo_root, model, "--config", "training={patience: 3}").communicate(
        timeout=600
    )
    assert "Finished" in out, out[-3000:]
    resolved = json.loads((tmp_path / "results" / "config.json").read_text())
    assert resolved["training"]["device"] == "cpu"
    assert resolved["training"]["patience"] == 3  # --config merged into the section
    default = load_config(repo_root / "workflows" / "config.yaml")
    assert resolved["training"]["finetune_epochs"] == default.training.finetune_epochs  # kept
    hyper = _hyperparameters(tmp_path / model)
    assert (hyper["epochs"], hyper["batch_size"], hyper["learning_rate"], hyper["patience"]) == (
        2,
        64,
        0.002,
        3,
    )
    assert hyper["device"] == "cpu"

    # what the user changes is what the rules get on the next run
    (tmp_path / "tiny.yaml").write_text(override.replace("EPOCHS", "3"))
    out, _ = _snakemake(tmp_path, repo_root, model).communicate(timeout=600)
    assert "Finished" in out, out[-3000:]
    assert _hyperparameters(tmp_path / model)["epochs"] == 3
    assert json.loads((tmp_path / "results" / "config.json").read_text())["training"]["patience"] == 10


@pytest.mark.workflow
def test_override_error_names_the_users_key(tmp_path: Path, repo_root: Path) -> None:
    (tmp_path / "tiny.yaml").write_text("training: {devise: cuda}\n")
    out, _ = _snakemake(tmp_path, repo_root, "-n").communicate(timeout=300)
    assert f"{tmp_path / 'tiny.yaml'}: training.devise: " in out
    assert "version" not in out.split("training.devise")[0].split("\n")[-1]


HOST_SNAKEFILE = """\
configfile: "config.yaml"


module hep_aa:
    snakefile: "SNAKEFILE"
    config: config["hep_aa"]
    prefix: "anomaly"


use rule * from hep_aa as hep_aa_*
"""

HOST_CONFIG = """\
# the host workflow's own settings ...
project: my-analysis
# ... and hep_aa's, nested under one key
hep_aa:
  seeds: [0]
  methods: [vae]
  datasets:
    lhco: {enabled: false}
    vh: {enabled: false}
    mnist: {enabled: false}
    cicids: {path: CICIDS_DIR}
  training: {device: cpu, epochs: 2}
  evaluation: {bootstrap: 5}
  plots: {formats: [png]}
"""


@pytest.mark.workflow
@pytest.mark.slow
def test_as_a_module_with_prefix_and_nested_config(tmp_path: Path, repo_root: Path) -> None:
    """The README's module example: a host Snakefile that uses every rule of hep_aa under a
    prefix, with hep_aa's config nested in the host's."""
    (tmp_path / "Snakefile").write_text(HOST_SNAKEFILE.replace("SNAKEFILE", str(repo_root / "Snakefile")))
    (tmp_path / "config.yaml").write_text(HOST_CONFIG.replace("CICIDS_DIR", str(_cicids_dir(tmp_path))))
    proc = subprocess.run(
        [_snakemake_exe(), "--cores", "2"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    prefix = tmp_path / "anomaly"
    assert (prefix / "results" / "summary.md").is_file()
    assert (prefix / "results" / "cicids" / "plots" / "scores_vae.png").is_file()
    assert _hyperparameters(prefix / "results" / "cicids" / "models" / "vae_seed0")["epochs"] == 2
    resolved = json.loads((prefix / "results" / "config.json").read_text())
    assert resolved["datasets"]["lhco"]["enabled"] is False
    assert not (tmp_path / "results").exists()  # everything under the prefix
    # the conda environments' post-deploy script installs hep_aa from the module's own checkout
    # (HEP_AA_SOURCE, set when the Snakefile is parsed), not from the host's folder
    (tmp_path / "Snakefile.print").write_text(
        (tmp_path / "Snakefile").read_text()
        + '\nimport os\n\nprint("HEP_AA_SOURCE=" + os.environ["HEP_AA_SOURCE"])\n'
    )
    dry = subprocess.run(
        [_snakemake_exe(), "-n", "-s", "Snakefile.print"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "HEP_AA_SOURCE"},
    )
    assert f"HEP_AA_SOURCE={repo_root}\n" in dry.stdout, dry.stdout[-2000:] + dry.stderr[-2000:]
    assert (prefix / "logs" / "cicids" / "train_seed0.log").is_file()
