"""The ``stanchion`` command. Each command group lives in its own module and is
registered here; this is the only place that knows them all."""

from __future__ import annotations

import sys

import typer

app = typer.Typer(
    name="stanchion",
    help="Stanchion: crypto-trading infrastructure — simulator, connectors, engine, audits.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from stanchion.cli import config_cmd

    app.add_typer(config_cmd.app, name="config")
    from stanchion.cli import latency_audit_cmd

    app.command("latency-audit")(latency_audit_cmd.latency_audit)
    from stanchion.cli import admin_cmd

    app.command("kill")(admin_cmd.kill)
    app.command("resume")(admin_cmd.resume)
    app.command("status")(admin_cmd.status)
    app.command("sim")(__import__("stanchion.cli.sim_cmd", fromlist=["sim"]).sim)
    from stanchion.cli import run_cmd

    app.command("run")(run_cmd.run)
    # Command modules register themselves here, one line each.


_register()


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    try:
        app(args=argv, prog_name="stanchion")
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
