"""``stanchion sim --venue binance``: run the simulated venue until SIGINT/SIGTERM.

Prints the REST, WebSocket stream, WebSocket API and control URLs on start (one
JSON object with ``--json``), then serves until interrupted and exits 0.
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Annotated

import typer

from stanchion.sim.binance import BinanceSimServer, KeySpec, SimServerConfig
from stanchion.sim.binance.config import DEFAULT_API_KEY, DEFAULT_API_SECRET, load_keys_file


def sim(
    venue: Annotated[str, typer.Option(help="Venue to simulate (binance).")] = "binance",
    host: Annotated[str, typer.Option(help="Listen address (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.")] = 0,
    symbols: Annotated[str, typer.Option(help="Comma-separated symbols.")] = "BTCUSDT,ETHUSDT",
    seed: Annotated[int, typer.Option(help="Seed of the synthetic market.")] = 1,
    rate: Annotated[float, typer.Option(help="Market updates per second per symbol.")] = 10.0,
    faults: Annotated[Path | None, typer.Option(help="Fault scenario file (YAML/JSON).")] = None,
    keys: Annotated[Path | None, typer.Option(help="API keys file (YAML/JSON).")] = None,
    api_key: Annotated[str | None, typer.Option(help="One HMAC key for the default account.")] = None,
    api_secret: Annotated[str | None, typer.Option(help="Its secret.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the URLs as one JSON object.")] = False,
) -> None:
    """Run a simulated exchange on loopback (REST, WebSocket streams, WebSocket API, control)."""
    if venue != "binance":
        typer.echo(f"unknown venue {venue!r}; supported: binance", err=True)
        raise typer.Exit(2)
    if (api_key is None) != (api_secret is None):
        typer.echo("--api-key and --api-secret go together", err=True)
        raise typer.Exit(2)
    try:
        key_specs: tuple[KeySpec, ...] = ()
        if keys is not None:
            key_specs = load_keys_file(keys)
        if api_key is not None and api_secret is not None:
            key_specs = (*key_specs, KeySpec(api_key, api_secret))
        config = SimServerConfig(
            host=host, port=port, symbols=tuple(s.strip().upper() for s in symbols.split(",") if s.strip()),
            seed=seed, rate=rate, keys=key_specs, faults_file=str(faults) if faults else None,
        )
        server = BinanceSimServer(config)
    except ValueError as exc:
        typer.echo(f"stanchion sim: {exc}", err=True)
        raise typer.Exit(2) from None
    asyncio.run(_serve(server, as_json=as_json, default_key=not key_specs))


async def _serve(server: BinanceSimServer, *, as_json: bool, default_key: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
    except OSError as exc:
        typer.echo(f"stanchion sim: cannot listen on {server.config.host}:{server.config.port}: {exc.strerror}",
                   err=True)
        raise typer.Exit(1) from None
    try:
        urls = server.urls()
        if as_json:
            info: dict[str, object] = dict(urls)
            if default_key:
                info["api_key"] = DEFAULT_API_KEY
                info["api_secret"] = DEFAULT_API_SECRET
            typer.echo(json.dumps(info), nl=True)
        else:
            for name, url in urls.items():
                typer.echo(f"{name:<11} {url}")
            if default_key:
                typer.echo(f"{'api_key':<11} {DEFAULT_API_KEY} (test account 'default'; secret in --json output)")
        await stop.wait()
    finally:
        await server.stop()
