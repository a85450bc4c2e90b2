"""``hep-aa config``: validate and show workflow configurations."""

from __future__ import annotations

import json

import click

_FILES = click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=str))


@click.group("config")
def config() -> None:
    """Validate or show a workflow configuration."""


@config.command("validate")
@_FILES
def validate(files: tuple[str, ...]) -> None:
    """Validate FILES against the packaged schema (exit 0 when valid, 2 otherwise).

    Every file is an override of the defaults (no key is required, ``version`` included);
    several files are also checked merged, later ones winning, as Snakemake merges
    ``--configfile`` files.
    """
    from hep_aa.config import load_config

    load_config(*files)
    click.echo(f"{' + '.join(files)}: valid")


@config.command("show")
@_FILES
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write the JSON here (atomically) instead of stdout.",
)
def show(files: tuple[str, ...], output: str | None) -> None:
    """Print FILES merged (later files override earlier ones, as Snakemake does) as JSON with
    every default filled in."""
    from hep_aa.config import load_config

    text = json.dumps(load_config(*files).to_dict(), indent=2)
    if output:
        from hep_aa.io.artifacts import atomic_write

        with atomic_write(output) as fh:
            fh.write(text + "\n")
    else:
        click.echo(text)
