"""``hep-aa config``: validate and show workflow configurations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import yaml

from hep_aa.config import load_config
from hep_aa.exceptions import ConfigError


@click.group("config")
def config() -> None:
    """Validate or show a workflow configuration."""


@config.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
def validate(file: str) -> None:
    """Validate FILE against the packaged schema (exit 0 when valid, 2 otherwise)."""
    load_config(file)
    click.echo(f"{file}: valid")


def _deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        out[key] = (
            _deep_merge(out[key], value)
            if isinstance(value, dict) and isinstance(out.get(key), dict)
            else value
        )
    return out


@config.command("show")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=str))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write the JSON here (atomically) instead of stdout.",
)
def show(files: tuple[str, ...], output: str | None) -> None:
    """Print FILES merged (later files override earlier ones, as Snakemake does) as JSON with
    every default filled in."""
    merged: dict[str, Any] = {}
    for file in files:
        load_config(file)  # each file must be valid on its own (clear errors naming the file)
        data = yaml.safe_load(Path(file).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ConfigError(f"{file}: the configuration must be a mapping at the top level")
        merged = _deep_merge(merged, data)
    text = json.dumps(load_config(merged).to_dict(), indent=2)
    if output:
        from hep_aa.io.artifacts import atomic_write

        with atomic_write(output) as fh:
            fh.write(text + "\n")
    else:
        click.echo(text)
