"""Sphinx configuration of the hep_aa documentation.

The tutorial figures are rendered at build time by ``make_figures.py`` (the hep-aa CLI on
small real or generated samples) into ``_generated/``, so no image is committed.
``HEP_AA_DOCS_FIGURES`` chooses: ``quick`` (default, a few minutes), ``full`` (larger
samples), ``skip`` (reuse the figures of an earlier build) or ``none`` (a text-only build
that checks the pages and the API reference in seconds: CI). ``HEP_AA_DATA`` points at the
real samples (default ``../../shared/data``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

import hep_aa

HERE = Path(__file__).resolve().parent

project = "hep_aa"
author = "hep_aa developers"
copyright = "hep_aa developers, BSD-3-Clause"
version = release = hep_aa.__version__

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]
templates_path = ["_templates"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_generated", "requirements.txt"]
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3

autosummary_generate = True
autodoc_typehints = "none"  # numpydoc renders the documented types
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()
nitpicky = False

html_theme = "sphinx_book_theme"
html_title = f"hep_aa {release}"
html_theme_options = {"show_toc_level": 2, "use_download_button": False}
html_static_path: list[str] = []


FIGURE_MODE = os.environ.get("HEP_AA_DOCS_FIGURES", "quick")
GENERATED = HERE / "_generated"


class GeneratedFigure(SphinxDirective):
    """``{generated-figure} lhco/roc_known.png`` with the caption as content: a figure rendered
    by make_figures.py. A missing file is an error, except with ``HEP_AA_DOCS_FIGURES=none``
    (a text-only build, e.g. CI, where make_figures.py is not run) where a note says so."""

    required_arguments = 1
    has_content = True

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0]
        if not (GENERATED / name).is_file():
            if FIGURE_MODE == "none":
                text = f"[Figure {name}: rendered by docs/make_figures.py, not in this text-only build.]"
                return [nodes.paragraph(text=text, classes=["generated-missing"])]
            raise self.error(f"{GENERATED / name} was not rendered; run docs/make_figures.py")
        image = nodes.image(uri=f"/_generated/{name}", alt=" ".join(self.content) or name)
        self.env.note_dependency(str(GENERATED / name))
        figure = nodes.figure("", image)
        if self.content:
            caption = nodes.caption()
            text = nodes.paragraph()
            self.state.nested_parse(self.content, self.content_offset, text)
            caption += text.children[0].children if text.children else []
            figure += caption
        return [figure]


class GeneratedTable(SphinxDirective):
    """``{generated-table} lhco``: the comparison table (table.md) written by make_figures.py."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        path = GENERATED / self.arguments[0] / "table.md"
        if not path.is_file():
            if FIGURE_MODE == "none":
                return [nodes.paragraph(text=f"[Table {self.arguments[0]}: not in this text-only build.]")]
            raise self.error(f"{path} was not rendered; run docs/make_figures.py")
        self.env.note_dependency(str(path))
        container = nodes.container()
        self.state.nested_parse(StringList(path.read_text().splitlines(), str(path)), 0, container)
        return container.children


def _figures(_app: object) -> None:
    mode = FIGURE_MODE
    out = GENERATED
    if mode == "none" or (mode == "skip" and out.is_dir()):
        return
    cmd = [sys.executable, str(HERE / "make_figures.py"), "-o", str(out)]
    if mode != "full":
        cmd.append("--quick")
    if os.environ.get("HEP_AA_DATA"):
        cmd += ["--data", os.environ["HEP_AA_DATA"]]
    subprocess.run(cmd, check=True, env={**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"})


def _registry_tables(_app: object) -> None:
    """Markdown tables of the feature registry, included by registry.md."""
    from hep_aa.features import registry as R

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = []
    for (dataset, feature_set), group in R.FEATURE_SETS.items():
        lines += [f"**{R.dataset_info(dataset).title}**, feature set `{feature_set}`", ""]
        lines += ["| column | label | unit | description |", "|---|---|---|---|"]
        lines += [
            f"| `{f.name}` | {cell(f.label)} | {f.unit or '–'} | {cell(f.description)} |"
            for f in group.values()
        ]
        lines.append("")
    lines += ["**Anomaly types**", "", "| type | legend label | description |", "|---|---|---|"]
    lines += [f"| `{a.name}` | {cell(a.label)} | {cell(a.description)} |" for a in R.ANOMALY_TYPES.values()]
    lines += ["", "**Datasets**", "", "| dataset | title | collider | background |", "|---|---|---|---|"]
    lines += [
        f"| `{d.name}` | {cell(d.title)} | {'yes' if d.collider else 'no'} | {cell(d.background)} |"
        for d in R.DATASETS.values()
    ]
    out = HERE / "_generated" / "registry_tables.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines) + "\n"
    if not out.exists() or out.read_text() != text:
        out.write_text(text)


_PIPES = re.compile(r"(?<![\\`])\|([^|\s`][^|`]*?)\|(?!`)")
_UNDERLINE = re.compile(r"^\s*(-{3,}|={3,})\s*$")


def _plain_docstring(
    _app: object, _what: str, _name: str, _obj: object, _opts: object, lines: list[str]
) -> None:
    """Docstrings are written as plain numpydoc text: ``|η| < 2.5`` is an absolute value, not an
    RST substitution, so pipes pairs are escaped; a section underline shorter than its title
    is lengthened."""
    for i, line in enumerate(lines):
        if not line.lstrip().startswith((">>>", "...", "| ", "+-", "+=")):
            lines[i] = _PIPES.sub(r"\\|\1\\|", line)
        if (
            i
            and _UNDERLINE.match(line)
            and lines[i - 1].strip()
            and len(line.strip()) < len(lines[i - 1].strip())
        ):
            indent = line[: len(line) - len(line.lstrip())]
            lines[i] = indent + line.strip()[0] * len(lines[i - 1].strip())


def _skip_inherited_sklearn(
    _app: object, _what: str, _name: str, obj: object, skip: bool, _opts: object
) -> bool:
    """Leave out methods that scikit-learn generates on estimators (set_fit_request, ...)."""
    module = getattr(obj, "__module__", None) or ""
    return skip or module.startswith("sklearn")


def setup(app: object) -> None:
    app.connect("autodoc-process-docstring", _plain_docstring, priority=400)  # type: ignore[attr-defined]
    app.connect("autodoc-skip-member", _skip_inherited_sklearn)  # type: ignore[attr-defined]
    app.add_directive("generated-figure", GeneratedFigure)  # type: ignore[attr-defined]
    app.add_directive("generated-table", GeneratedTable)  # type: ignore[attr-defined]
    app.connect("builder-inited", _registry_tables)  # type: ignore[attr-defined]
    app.connect("builder-inited", _figures)  # type: ignore[attr-defined]
