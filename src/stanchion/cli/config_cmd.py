"""``stanchion config validate|schema|id``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from stanchion.config import ConfigFileError, json_schema, load_config

app = typer.Typer(help="Validate configuration files and print their schema.", no_args_is_help=True)


def validate_files(paths: list[Path]) -> tuple[list[str], list[str]]:
    """Validate each file; returns (ok lines, problem lines)."""
    ok: list[str] = []
    bad: list[str] = []
    for path in paths:
        try:
            loaded = load_config(path)
        except ConfigFileError as exc:
            bad.extend(problem.render(str(path)) for problem in exc.problems)
        else:
            ok.append(f"{path}: ok ({loaded.config_id})")
    return ok, bad


@app.command("validate")
def validate(
    files: Annotated[list[Path], typer.Argument(help="Configuration files (YAML).")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print problems only.")] = False,
) -> None:
    """Validate FILES: exit 0 when all are valid, 1 with one line per problem."""
    ok, bad = validate_files(files)
    if not quiet:
        for line in ok:
            typer.echo(line)
    for line in bad:
        typer.echo(line, err=True)
    raise typer.Exit(1 if bad else 0)


@app.command("schema")
def schema() -> None:
    """Print the configuration's JSON Schema on stdout."""
    typer.echo(json.dumps(json_schema(), indent=2, sort_keys=True))


@app.command("id")
def config_id_command(file: Annotated[Path, typer.Argument(help="Configuration file.")]) -> None:
    """Print the stable id of a valid configuration (recorded in the audit log)."""
    try:
        loaded = load_config(file)
    except ConfigFileError as exc:
        for problem in exc.problems:
            typer.echo(problem.render(str(file)), err=True)
        raise typer.Exit(1) from None
    typer.echo(loaded.config_id)
