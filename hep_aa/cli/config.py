"""``hep-aa config``: validate and show workflow configurations."""

from __future__ import annotations

import json

import click

from hep_aa.config import load_config


@click.group("config")
def config() -> None:
    """Validate or show a workflow configuration."""


@config.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
def validate(file: str) -> None:
    """Validate FILE against the packaged schema (exit 0 when valid, 2 otherwise)."""
    load_config(file)
    click.echo(f"{file}: valid")


@config.command("show")
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
def show(file: str) -> None:
    """Print FILE as JSON with every default filled in."""
    click.echo(json.dumps(load_config(file).to_dict(), indent=2))
