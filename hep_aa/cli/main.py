"""Entry point of ``hep-aa``: the command group, logging set-up and user-error handling.

User errors (:class:`~hep_aa.exceptions.HepAAError`) become one line on stderr and exit
code 2; with ``-v`` the traceback is shown as well.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import click

from hep_aa._version import __version__
from hep_aa.exceptions import HepAAError

__all__ = ["cli", "main"]

log = logging.getLogger("hep_aa")

USER_ERROR_EXIT = 2


class _Group(click.Group):
    """Click group that keeps subcommands in the order they were added in ``--help``."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="hep-aa", message="%(prog)s %(version)s")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug); tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """hep_aa: Anomaly Awareness for collider physics, from events to plots."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)


def _register() -> None:
    from hep_aa.cli import coffea_score as coffea_cmd
    from hep_aa.cli import config as config_cmd
    from hep_aa.cli import evaluate as evaluate_cmd
    from hep_aa.cli import features as features_cmd
    from hep_aa.cli import generate as generate_cmd
    from hep_aa.cli import tables as tables_cmd
    from hep_aa.cli import train as train_cmd

    cli.add_command(config_cmd.config)
    cli.add_command(generate_cmd.generate)
    cli.add_command(features_cmd.features)
    cli.add_command(train_cmd.train)
    cli.add_command(train_cmd.score)
    cli.add_command(evaluate_cmd.evaluate)
    cli.add_command(evaluate_cmd.plot)
    cli.add_command(tables_cmd.split)
    cli.add_command(tables_cmd.summary)
    cli.add_command(coffea_cmd.coffea_score)


_register()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI in-process and return its exit code (0 success, 2 user error)."""
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = any(a in ("-v", "--verbose") or (a.startswith("-v") and set(a[1:]) == {"v"}) for a in args)
    try:
        result = cli.main(args=args, prog_name="hep-aa", standalone_mode=False)
    except HepAAError as exc:
        if verbose:
            log.exception("hep-aa failed")
        click.echo(f"hep-aa: error: {exc}", err=True)
        return USER_ERROR_EXIT
    except click.exceptions.Abort:
        click.echo("hep-aa: aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return USER_ERROR_EXIT if exc.exit_code == 2 else exc.exit_code
    return result if isinstance(result, int) else 0


def _console_main() -> None:
    """Console-script wrapper (``hep-aa``)."""
    sys.exit(main())
