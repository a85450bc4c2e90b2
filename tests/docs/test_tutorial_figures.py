"""The tutorials only reference figures that docs/make_figures.py renders (the CI docs build is
text-only, so a renamed figure would otherwise fail only in a full documentation build)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _make_figures():
    spec = importlib.util.spec_from_file_location("make_figures", DOCS / "make_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _referenced() -> list[tuple[str, str]]:
    pattern = re.compile(r"```\{generated-(figure|table)\} ([^\s]+)")
    return [
        (kind, name) for md in sorted(DOCS.rglob("*.md")) for kind, name in pattern.findall(md.read_text())
    ]


def _expected(dataset: str, methods: tuple[str, ...]) -> set[str]:
    """Figure stems `hep-aa plot` and make_figures.py write for a dataset."""
    stems = {"features", "roc_known", "roc_unseen", "sic_known", "sic_unseen"}
    stems |= {f"scores_{m}" for m in methods}
    stems |= {f"{kind}_{m}_seed0" for m in methods if m != "iforest" for kind in ("training", "latent")}
    if dataset == "lhco":
        stems |= {f"mjj_sculpting_{m}" for m in methods} | {"training_diverged"}
    if dataset == "vh":
        stems.add("cutflow")
    return {f"{dataset}/{s}.png" for s in stems}


def test_every_tutorial_figure_is_rendered_by_make_figures() -> None:
    mf = _make_figures()
    methods = {"lhco": mf.METHODS, "vh": mf.METHODS, "mnist": ("vae", "aa-vae", "iforest")}
    methods["cicids"] = methods["mnist"]
    refs = _referenced()
    assert {name.split("/")[0] for _, name in refs} == set(mf.DATASETS)  # every dataset has figures
    for kind, name in refs:
        if kind == "table":
            assert name in mf.DATASETS
        else:
            dataset = name.split("/")[0]
            assert name in _expected(dataset, methods[dataset]), name


@pytest.mark.parametrize("page", ["lhco", "mnist", "vh", "cicids"])
def test_tutorial_pages_are_in_the_toctree(page: str) -> None:
    assert f"tutorials/{page}" in (DOCS / "index.md").read_text()
