"""The workflow's conda environments (``envs/*.yaml`` + post-deploy scripts) and a real
install of the package: the core alone, then what an environment's pip section and
post-deploy script add, in a fresh virtual environment.

Snakemake copies an environment file to ``.snakemake/conda/<hash>.yaml`` before creating
it, so a relative path in it (``-e ..``) would point there. The files therefore hold only
requirements; the post-deploy script beside each installs hep_aa from ``$HEP_AA_SOURCE``,
which the Snakefile sets to its own directory.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

import hep_aa
import hep_aa.workflow as W

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parents[1]
ENV_FILES = sorted((REPO / "envs").glob("*.yaml"))
EXTRAS = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"][
    "optional-dependencies"
]


def _pip_section(env: dict) -> list[str]:
    (pip,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    return [str(line) for line in pip]


def test_there_are_cpu_and_cuda_environments() -> None:
    assert {p.name for p in ENV_FILES} == {"hep-aa.yaml", "hep-aa-cuda.yaml"}


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.name)
def test_environment_file(path: Path) -> None:
    env = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert env["name"] == path.stem
    assert env["channels"] == ["conda-forge", "nodefaults"]
    plain = [d for d in env["dependencies"] if isinstance(d, str)]
    assert any(re.fullmatch(r"python=3\.\d+", d) for d in plain)
    assert "pip" in plain
    lines = _pip_section(env)
    for line in lines:
        # nothing that resolves against .snakemake/conda/ once Snakemake copies the file
        assert not line.startswith(("-e", "-r", "-c", ".", "/", "file:")), line
        assert ".." not in line, line
    options = [line for line in lines if line.startswith("--")]
    assert all(re.fullmatch(r"--extra-index-url https://download\.pytorch\.org/whl/\w+", o) for o in options)
    reqs = {Requirement(line).name: Requirement(line) for line in lines if not line.startswith("--")}
    assert set(reqs) == {"torch", "pythia8mc"}
    # the pinned Pythia build satisfies the [generate] extra (binary wheels, no 20-min compile)
    generate = next(Requirement(r) for r in EXTRAS["generate"] if r.startswith("pythia8mc"))
    (pin,) = reqs["pythia8mc"].specifier
    assert pin.operator == "=="
    assert generate.specifier.contains(pin.version)
    index = options[0].rsplit("/", 1)[1]
    assert (index == "cpu") == (path.stem == "hep-aa")


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.name)
def test_post_deploy_script(path: Path) -> None:
    script = path.with_name(path.stem + ".post-deploy.sh")
    text = script.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert '"${HEP_AA_SOURCE:?' in text
    # the version is written in the script so that a release changes the environment's hash
    assert f"Built for hep_aa {hep_aa.__version__}:" in text
    (extras,) = re.findall(r'-e "\$src\[([\w,]+)\]"', text)
    assert set(extras.split(",")) <= set(EXTRAS)
    # the rules need generation, coffea scoring and plots
    assert {"generate", "coffea", "plot"} <= set(extras.split(","))


def test_post_deploy_script_refuses_without_source(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "HEP_AA_SOURCE"}
    out = subprocess.run(
        ["bash", str(REPO / "envs" / "hep-aa.post-deploy.sh")], env=env, capture_output=True, text=True
    )
    assert out.returncode != 0
    assert "HEP_AA_SOURCE" in out.stderr
    env["HEP_AA_SOURCE"] = str(tmp_path)
    out = subprocess.run(
        ["bash", str(REPO / "envs" / "hep-aa.post-deploy.sh")], env=env, capture_output=True, text=True
    )
    assert out.returncode == 1
    assert "no pyproject.toml" in out.stderr


@pytest.mark.parametrize(
    ("device", "env", "gpus"),
    [
        ("auto", "hep-aa.yaml", 0),
        ("cpu", "hep-aa.yaml", 0),
        ("cuda", "hep-aa-cuda.yaml", 1),
        ("cuda:1", "hep-aa-cuda.yaml", 1),
    ],
)
def test_training_environment_follows_the_device(device: str, env: str, gpus: int) -> None:
    config = {"training": {"device": device}}
    assert W.train_env(config) == env
    assert W.train_gpus(config) == gpus
    assert (REPO / "envs" / env).is_file()


def _run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(cmd, capture_output=True, text=True, **kw)  # type: ignore[call-overload]
    assert out.returncode == 0, f"{' '.join(cmd)}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


@pytest.mark.slow
@pytest.mark.install
def test_core_install_then_environment_in_a_fresh_venv(tmp_path: Path) -> None:
    """``pip install hep_aa`` alone imports the library without coffea, Snakemake, Pythia or
    matplotlib installed; the CPU environment's pip section and post-deploy script then
    give what every rule runs.

    Takes minutes and needs a package index (set HEP_AA_TEST_INSTALL=1; .ci/run does). torch
    is constrained to the build installed here (the local CPU wheel) instead of the
    download.pytorch.org index the environment names, so no multi-GB build is fetched.
    """
    if os.environ.get("HEP_AA_TEST_INSTALL") != "1":
        pytest.skip("installs into a fresh venv from the package index: set HEP_AA_TEST_INSTALL=1")
    import torch

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    py = str(venv / "bin" / "python")
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(f"torch=={torch.__version__.split('+')[0]}\n")
    pip = [py, "-m", "pip", "install", "--disable-pip-version-check", "-q", "-c", str(constraints)]

    # 1. the core: no extras
    _run([*pip, str(REPO)])
    code = (
        "import importlib.util as u, sys\n"
        "import hep_aa.detector, hep_aa.io.lhco, hep_aa.features.jets, hep_aa.cli.main\n"
        "missing = [m for m in ('coffea', 'snakemake', 'pythia8mc', 'matplotlib', 'dask') if u.find_spec(m)]\n"
        "sys.exit(f'installed by the core: {missing}' if missing else 0)\n"
    )
    _run([py, "-c", code])
    _run([str(venv / "bin" / "hep-aa"), "config", "validate", str(REPO / "workflows" / "config.yaml")])

    # 2. the CPU environment: its pip section (index options aside), then its post-deploy script
    env = yaml.safe_load((REPO / "envs" / "hep-aa.yaml").read_text(encoding="utf-8"))
    requirements = [line for line in _pip_section(env) if not line.startswith("--")]
    _run([*pip, *requirements])
    bin_dir = str(venv / "bin")
    environ = {**os.environ, "HEP_AA_SOURCE": str(REPO), "PATH": bin_dir + os.pathsep + os.environ["PATH"]}
    environ.pop("PYTHONPATH", None)
    environ["PIP_CONSTRAINT"] = str(constraints)
    out = _run(["bash", str(REPO / "envs" / "hep-aa.post-deploy.sh")], env=environ)
    assert f"hep-aa {hep_aa.__version__}" in out.stdout
    _run(
        [
            py,
            "-c",
            "import pythia8mc, fastjet, coffea, dask_awkward, matplotlib, mplhep, pylhe, tables, pandas",
        ]
    )
    assert shutil.which("hep-aa", path=bin_dir)
