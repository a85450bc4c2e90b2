"""Packaging: core dependencies versus extras, the core import set, package data, metadata.

The core (``pip install hep_aa``) reads events and tables, builds features, trains, scores
and evaluates; Pythia 8, coffea, plots, the CICIDS reader and Snakemake are extras. These
tests keep the declared dependencies and the imports of the code in step.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import yaml

import hep_aa

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]

#: import name -> the extra that provides it (everything else must be a core dependency)
OPTIONAL_IMPORTS = {
    "pythia8mc": "generate",
    "tables": "generate",
    "pylhe": "generate",
    "pandas": "cicids",
    "coffea": "coffea",
    "distributed": "coffea",
    "dask": "coffea",
    "dask_awkward": "coffea",
    "dask_histogram": "coffea",
    "matplotlib": "plot",
    "mplhep": "plot",
    "snakemake": "workflow",
}
#: must never be imported by the core modules below (nor is torch by the light ones)
EXTRA_MODULES = sorted(OPTIONAL_IMPORTS)
CORE_MODULES = [
    "hep_aa",
    "hep_aa.detector",
    "hep_aa.config",
    "hep_aa.io",
    "hep_aa.io.lhco",
    "hep_aa.io.root",
    "hep_aa.io.artifacts",
    "hep_aa.features",
    "hep_aa.features.jets",
    "hep_aa.features.higgs",
    "hep_aa.metrics",
    "hep_aa.training",
    "hep_aa.models",
    "hep_aa.cli.main",
    "hep_aa.workflow",
]


def _name(requirement: str) -> str:
    """Normalised distribution name of a requirement string (PEP 503)."""
    name = re.split(r"[\s\[<>=!~;@]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def _extra_names(extra: str, seen: frozenset[str] = frozenset()) -> set[str]:
    """Distributions an extra brings, following self-references such as ``hep_aa[plot]``."""
    out = set()
    for req in PROJECT["optional-dependencies"][extra]:
        if _name(req) == "hep-aa":
            for inner in re.search(r"\[(.*)\]", req).group(1).split(","):  # type: ignore[union-attr]
                if inner.strip() not in seen:
                    out |= _extra_names(inner.strip(), seen | {extra})
        else:
            out.add(_name(req))
    return out


CORE = {_name(r) for r in PROJECT["dependencies"]}


def _third_party_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("hep_aa", "__future__")}


def test_core_dependencies_exclude_the_extras() -> None:
    for heavy in ("coffea", "snakemake", "pythia8mc", "matplotlib", "mplhep", "pandas", "tables", "pylhe"):
        assert heavy not in CORE, f"{heavy} is a core dependency"
    assert {"numpy", "awkward", "uproot", "vector", "torch", "scikit-learn", "hist", "h5py"} <= CORE


def test_every_import_of_the_package_is_declared() -> None:
    """Each third-party module hep_aa imports comes from a core dependency, or from the extra
    listed in OPTIONAL_IMPORTS (and that extra declares it)."""
    dists = packages_distributions()
    problems = []
    for path in sorted((REPO / "hep_aa").rglob("*.py")):
        for module in sorted(_third_party_imports(path)):
            provided = {_name(d) for d in dists.get(module, [module])}
            where = path.relative_to(REPO)
            if module in OPTIONAL_IMPORTS:
                extra = OPTIONAL_IMPORTS[module]
                if not provided & _extra_names(extra):
                    problems.append(f"{where}: {module} is not declared in the [{extra}] extra")
            elif not provided & CORE:
                problems.append(f"{where}: {module} ({', '.join(sorted(provided))}) is not a core dependency")
    assert not problems, "\n".join(problems)


def test_extras_bring_their_parts() -> None:
    extras = PROJECT["optional-dependencies"]
    assert {"pythia8mc", "tables", "pylhe"} <= _extra_names("generate")
    assert {"coffea", "distributed"} <= _extra_names("coffea")
    assert {"matplotlib", "mplhep"} <= _extra_names("plot")
    assert {"snakemake", "coffea", "pythia8mc", "matplotlib", "pandas"} <= _extra_names("workflow")
    assert "snakemake-executor-plugin-slurm" in _extra_names("cluster")
    assert {"pytest", "snakemake", "coffea", "pythia8mc"} <= _extra_names("test")
    every = set().union(*(_extra_names(e) for e in extras if e != "all"))
    assert _extra_names("all") == every
    # the Runner API used needs coffea >= 2025.7; dask-awkward only accepts dask < 2025.4
    coffea = next(r for r in extras["coffea"] if _name(r) == "coffea")
    assert ">=2025.7" in coffea
    distributed = next(r for r in extras["coffea"] if _name(r) == "distributed")
    assert "<2025.4" in distributed
    assert "!=8.318.0" in next(r for r in extras["generate"] if _name(r) == "pythia8mc")


def test_core_import_set_in_a_fresh_interpreter() -> None:
    """Importing the core pulls in none of the extras (coffea, snakemake, pythia8mc, ...)."""
    code = (
        "import importlib, json, sys\n"
        f"for m in {CORE_MODULES!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {name.split(".")[0] for name in json.loads(out.stdout)}
    leaked = sorted(set(EXTRA_MODULES) & loaded - {"pandas"})  # scikit-learn imports pandas when present
    assert not leaked, f"the core modules imported {leaked}"


def test_package_data_and_metadata() -> None:
    assert (REPO / "hep_aa" / "py.typed").is_file()
    assert (REPO / "hep_aa" / "config" / "schema.yaml").is_file()
    assert PROJECT["license"] == "BSD-3-Clause"
    assert "BSD 3-Clause License" in (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "Typing :: Typed" in PROJECT["classifiers"]
    urls = " ".join(PROJECT["urls"].values())
    assert "arxiv.org/abs/2504.11520" in urls
    assert "arxiv.org/abs/2506.13955" in urls
    assert f"## [{hep_aa.__version__}]" in (REPO / "CHANGELOG.md").read_text(encoding="utf-8")


def test_citation_cites_the_software_and_both_papers() -> None:
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0"
    assert cff["type"] == "software"
    assert str(cff["version"]) == hep_aa.__version__
    assert cff["license"] == PROJECT["license"]
    refs = {ref["identifiers"][0]["value"]: ref for ref in cff["references"]}
    assert set(refs) == {"arXiv:2504.11520", "arXiv:2506.13955"}
    assert [a["family-names"] for a in refs["arXiv:2504.11520"]["authors"]] == ["Banda", "Khosa", "Sanz"]
    assert refs["arXiv:2506.13955"]["authors"][0]["family-names"] == "Lau"


@pytest.mark.slow
def test_built_wheel_holds_the_package_data(tmp_path: Path) -> None:
    """The wheel carries py.typed, the schema and the license (a build, offline)."""
    import zipfile

    pytest.importorskip("hatchling")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("hep_aa-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "hep_aa/py.typed" in names
    assert "hep_aa/config/schema.yaml" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "Requires-Dist: coffea" not in metadata.split("Provides-Extra")[0]
    assert "Provides-Extra: coffea" in metadata
