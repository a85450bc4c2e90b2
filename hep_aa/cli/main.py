"""Entry point of ``hep-aa``: the command group, logging set-up and user-error handling.

User errors (:class:`~hep_aa.exceptions.HepAAError`, and operating-system errors such as a
full disk or a permission denied) become one line on stderr and exit code 2; with ``-v`` the
traceback is shown as well.

Subcommand modules are imported only when their command runs (:data:`COMMANDS`), so
``hep-aa --help`` and ``hep-aa --version`` import no scientific stack at all.

Every subcommand is guarded before it runs: an output path (``-o/--output``, ``--train``,
``--test``, ``--table`` prefix) equal to any input path, or to another output, is refused —
``hep-aa features lhco in.h5 -o in.h5`` must never destroy its input.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Sequence
from typing import Any

import click

from hep_aa._version import __version__
from hep_aa.exceptions import HepAAError

__all__ = ["cli", "main"]

log = logging.getLogger("hep_aa")

USER_ERROR_EXIT = 2


#: Subcommands in ``--help`` order: name -> ("module:attribute", short help). A module is
#: imported only when its command runs (or shows its own help), so ``hep-aa --help`` and
#: ``hep-aa --version`` import nothing but click. ``tests/cli/test_main.py`` checks that each
#: short help here is the command's own.
COMMANDS: dict[str, tuple[str, str]] = {
    "config": ("hep_aa.cli.config:config", "Validate or show a workflow configuration."),
    "generate": (
        "hep_aa.cli.generate:generate",
        "Generate events with Pythia 8 (LHCO-like dijets, SMEFT Zh and Wh).",
    ),
    "features": ("hep_aa.cli.features:features", "Build model-input feature tables from events."),
    "train": (
        "hep_aa.cli.train:train",
        "Train a detector (METHOD) for one or several seeds and save each as safetensors + JSON.",
    ),
    "score": ("hep_aa.cli.train:score", "Score every event of FEATURES_PATH with the model in MODEL_DIR."),
    "evaluate": (
        "hep_aa.cli.evaluate:evaluate",
        "Metrics per anomaly type (seen/unseen) of SCORES (one file per method and seed).",
    ),
    "plot": (
        "hep_aa.cli.evaluate:plot",
        "Figures from score tables (*.parquet), model folders and metrics (*.json).",
    ),
    "split": (
        "hep_aa.cli.tables:split",
        "Concatenate feature tables and split them into train and test, stratified by anomaly type.",
    ),
    "summary": (
        "hep_aa.cli.tables:summary",
        "Concatenate per-dataset comparison tables (Markdown) into one summary file.",
    ),
    "coffea-score": (
        "hep_aa.cli.coffea_score:coffea_score",
        "Score Zh candidates of FILESET (a JSON fileset, or NAME=file1.root,...) with coffea.",
    ),
}


class _LazyGroup(click.Group):
    """Click group whose subcommands are imported on first use (:data:`COMMANDS`).

    ``--help`` lists every command with its short help from the table, in the table's order,
    without importing any of them. A command is imported, wrapped by the output-path guard and
    cached when it is run or asked for its own help.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*COMMANDS, *(name for name in self.commands if name not in COMMANDS)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.add_command(_load(cmd_name), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            # a stand-in built from the table shortens the help exactly as click does
            command = self.commands.get(name) or click.Command(name, help=COMMANDS[name][1])
            if not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _load(name: str) -> click.Command:
    """Import the command ``name`` of :data:`COMMANDS` and guard its output paths."""
    import importlib

    module_name, attr = COMMANDS[name][0].split(":")
    command = getattr(importlib.import_module(module_name), attr)
    _guard_paths(command)
    return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="hep-aa", message="%(prog)s %(version)s")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug); tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """hep_aa: Anomaly Awareness for collider physics, from events to plots."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    # -v is hep_aa's INFO; other libraries stay at WARNING (matplotlib's INFO floods logs) until -vv
    root = logging.WARNING if verbose < 2 else level
    logging.basicConfig(level=root, format="%(levelname)s %(name)s: %(message)s", force=True)
    logging.getLogger("hep_aa").setLevel(level)


#: Parameters that name outputs, with the suffixes written (a prefix gives several files).
OUTPUT_PARAMS: dict[str, tuple[str, ...]] = {
    "output": ("",),
    "train_out": ("",),
    "test_out": ("",),
    "table_prefix": (".md", ".csv"),
    "scores_out": ("",),
}


def _display(param: click.Parameter) -> str:
    if isinstance(param, click.Option):
        return max(param.opts, key=len)
    return (param.name or "ARG").upper()


def _paths_of(param: click.Parameter, value: Any) -> list[str]:
    """Path values of an input parameter: click.Path ones, and untyped arguments (file sets
    such as ``file.root`` or ``file.root:Events``)."""
    if value is None:
        return []
    if not (
        isinstance(param.type, click.Path)
        or (isinstance(param, click.Argument) and param.type is click.STRING)
    ):
        return []
    values = value if isinstance(value, (tuple, list)) else [value]
    out = []
    for v in values:
        if isinstance(v, str) and v:
            out.append(v)
            if ":" in v and not isinstance(param.type, click.Path):
                out.append(v.rsplit(":", 1)[0])  # uproot's path:tree
    return out


def _guard_paths(command: click.Command) -> None:
    """Wrap ``command`` (and a group's subcommands) so that outputs never overwrite inputs."""
    if isinstance(command, click.Group):  # generate, features, config: eager subcommands
        for sub in command.commands.values():
            _guard_paths(sub)
        return
    callback = command.callback
    if callback is None or getattr(callback, "_hep_aa_guarded", False):
        return
    params = {p.name: p for p in command.params if p.name}

    @functools.wraps(callback)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        from hep_aa.io.artifacts import check_outputs

        outputs: dict[str, str] = {}
        inputs: dict[str, list[str]] = {}
        for name, value in kwargs.items():
            param = params.get(name)
            if param is None or value is None:
                continue
            if name in OUTPUT_PARAMS:
                for suffix in OUTPUT_PARAMS[name]:
                    outputs[_display(param) + (f" ({suffix})" if suffix else "")] = f"{value}{suffix}"
            else:
                paths = _paths_of(param, value)
                if paths:
                    inputs[_display(param)] = paths
        check_outputs(inputs, outputs)
        return callback(*args, **kwargs)

    guarded._hep_aa_guarded = True  # type: ignore[attr-defined]
    command.callback = guarded


def _one_line(exc: BaseException) -> str:
    """The exception's message on one line (uproot/torch/pylhe texts span several)."""
    text = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
    return text if len(text) <= 2000 else text[:1997] + "..."


#: Top-level modules of the optional extras (pyproject.toml), for a one-line error naming the
#: extra to install when a command needs one that is missing.
OPTIONAL_MODULES = {
    "pythia8mc": "generate",
    "pythia8": "generate",
    "tables": "generate",
    "pylhe": "generate",
    "pandas": "cicids",
    "coffea": "coffea",
    "dask": "coffea",
    "dask_awkward": "coffea",
    "dask_histogram": "coffea",
    "distributed": "coffea",
    "matplotlib": "plot",
    "mplhep": "plot",
    "snakemake": "workflow",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI in-process and return its exit code (0 success, 2 user error)."""
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = any(a in ("-v", "--verbose") or (a.startswith("-v") and set(a[1:]) == {"v"}) for a in args)
    try:
        result = cli.main(args=args, prog_name="hep-aa", standalone_mode=False)
    except HepAAError as exc:
        if verbose:
            log.exception("hep-aa failed")
        click.echo(f"hep-aa: error: {_one_line(exc)}", err=True)
        return USER_ERROR_EXIT
    except ModuleNotFoundError as exc:  # an optional dependency of this command is not installed
        top = (exc.name or "").split(".")[0]
        if top not in OPTIONAL_MODULES:
            raise
        if verbose:
            log.exception("hep-aa failed")
        extra = OPTIONAL_MODULES[top]
        click.echo(
            f"hep-aa: error: this command needs {top!r}, which is not installed; "
            f"pip install 'hep_aa[{extra}]'",
            err=True,
        )
        return USER_ERROR_EXIT
    except OSError as exc:  # disk full, permission denied, ... : the environment, not a bug
        if verbose:
            log.exception("hep-aa failed")
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        reason = exc.strerror or _one_line(exc)
        click.echo(f"hep-aa: error: {where}{reason}", err=True)
        return USER_ERROR_EXIT
    except click.exceptions.Abort:
        click.echo("hep-aa: aborted", err=True)
        return 130
    except click.UsageError as exc:  # one line, like every other user error
        where = exc.ctx.command_path if exc.ctx is not None else "hep-aa"
        message = " ".join(exc.format_message().split())
        click.echo(f"hep-aa: error: {message} (see '{where} --help')", err=True)
        return USER_ERROR_EXIT
    except click.ClickException as exc:
        click.echo(f"hep-aa: error: {_one_line(exc)}", err=True)
        return USER_ERROR_EXIT if exc.exit_code == 2 else exc.exit_code
    return result if isinstance(result, int) else 0


def _console_main() -> None:
    """Console-script wrapper (``hep-aa``)."""
    sys.exit(main())
