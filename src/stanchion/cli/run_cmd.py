"""``stanchion run``: the engine, its venues, metrics, admin endpoint and live view.

With no arguments: the embedded default — the Binance simulator on loopback, the
Binance connector, the engine and the sample market maker on BTCUSDT and
ETHUSDT, metrics on 127.0.0.1:9464, the admin endpoint on 127.0.0.1:9465 and a
live terminal view. Ctrl-C or SIGTERM stops it gracefully (stop quoting, cancel
on shutdown, flush the journal) and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from stanchion.core.errors import ConfigError, SecretError, StanchionError

if TYPE_CHECKING:
    from stanchion.app.view import ViewModel


def run(
    config: Annotated[
        Path | None, typer.Option("--config", help="Config file (default: the embedded simulator setup).")
    ] = None,
    headless: Annotated[bool, typer.Option("--headless", help="No live view; print a summary at the end.")] = False,
    duration: Annotated[
        float | None, typer.Option("--duration", min=0.1, help="Stop after this many seconds.")
    ] = None,
    shard: Annotated[
        int | None, typer.Option("--shard", min=0, help="Shard to run (default: POD_NAME ordinal, else 0).")
    ] = None,
    metrics_listen: Annotated[
        str | None, typer.Option("--metrics-listen", help="host:port for /metrics, /healthz, /readyz.")
    ] = None,
    admin_listen: Annotated[str | None, typer.Option("--admin-listen", help="host:port of the admin endpoint.")] = None,
    state_dir: Annotated[
        Path | None, typer.Option("--state-dir", help="Where the journal, epoch and admin token live.")
    ] = None,
) -> None:
    """Run the engine (the embedded simulator setup when no --config is given)."""
    from stanchion.app.main import Application, RunOptions, load_run_config
    from stanchion.config.loader import ConfigFileError
    from stanchion.observability.logging import configure_logging, get_logger

    try:
        loaded = load_run_config(config)
    except ConfigFileError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    from stanchion.config.model import Mode
    from stanchion.core import failpoints

    try:
        # Crash tests only: read once, before anything runs; refused in live mode.
        armed = failpoints.configure(live=loaded.config.mode is Mode.LIVE)
    except ConfigError as exc:
        typer.echo(f"stanchion run: {exc}", err=True)
        raise typer.Exit(1) from None
    options = RunOptions(config, headless, duration, shard, metrics_listen, admin_listen, state_dir)
    interactive = not headless and sys.stdout.isatty()
    log_stream = None
    if interactive:
        # The live view owns the terminal: logs go to a file beside the journal.
        log_path = Path(state_dir or ".state") / "stanchion.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_stream = log_path.open("a", encoding="utf-8")
    configure_logging(loaded.config.logging.level, loaded.config.logging.format, stream=log_stream or sys.stderr)
    if armed:
        get_logger("stanchion.run").warning("failpoints_armed", failpoints=armed)
    app = Application(loaded, options)
    try:
        model = _run(app, interactive, duration)
    except (ConfigError, SecretError) as exc:
        typer.echo(f"stanchion run: {exc}", err=True)
        raise typer.Exit(1) from None
    except StanchionError as exc:
        typer.echo(f"stanchion run: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        if log_stream is not None:
            log_stream.close()
    from stanchion.app.view import summary

    typer.echo(summary(model))


def _run(app: object, interactive: bool, duration: float | None) -> ViewModel:
    from stanchion.app.main import Application

    assert isinstance(app, Application)

    async def main() -> ViewModel:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        timer = loop.call_later(duration, stop.set) if duration is not None else None
        view_task: asyncio.Task[None] | None = None

        def on_ready(application: Application) -> None:
            nonlocal view_task
            if interactive:
                view_task = asyncio.create_task(_live_view(application, stop))

        try:
            return await app.run(stop, on_ready=on_ready)
        finally:
            if timer is not None:
                timer.cancel()
            if view_task is not None:
                view_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await view_task

    try:
        import uvloop

        return uvloop.run(main())
    except ImportError:  # pragma: no cover - uvloop is a dependency; kept for odd platforms
        return asyncio.run(main())


async def _live_view(app: object, stop: asyncio.Event) -> None:
    from rich.live import Live

    from stanchion.app.main import Application
    from stanchion.app.view import render

    assert isinstance(app, Application)
    with Live(render(app.view_model()), refresh_per_second=4, screen=False) as live:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.25)
            live.update(render(app.view_model()))
