"""``stanchion kill`` / ``stanchion resume`` / ``stanchion status``: the operator's commands.

They call the running engine's admin endpoint with its bearer token: from
``--token-file``, or the file the engine wrote next to its journal
(``<journal dir>/admin.token``), found through ``--config``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated, Any

import typer

from stanchion.config import ConfigFileError, load_config

DEFAULT_ADDRESS = "127.0.0.1:9465"
DEFAULT_TOKEN_FILE = Path(".state/admin.token")


def _target(config: Path | None, url: str | None, token_file: Path | None) -> tuple[str, Path]:
    address = DEFAULT_ADDRESS
    state_token = DEFAULT_TOKEN_FILE
    if config is not None:
        try:
            loaded = load_config(config)
        except ConfigFileError as exc:
            for problem in exc.problems:
                typer.echo(problem.render(str(config)), err=True)
            raise typer.Exit(1) from None
        address = loaded.config.admin.listen
        state_token = Path(loaded.config.journal.path).parent / "admin.token"
    base = url or f"http://{address}"
    return base.rstrip("/"), token_file or state_token


def _call(method: str, base: str, path: str, token_file: Path, body: dict[str, Any] | None) -> dict[str, Any]:
    try:
        token = token_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        typer.echo(f"cannot read the admin token from {token_file}: {exc.strerror}", err=True)
        raise typer.Exit(1) from None
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - the URL is the operator's own endpoint
        base + path, data=data, method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            result: dict[str, Any] = json.loads(response.read())
            return result
    except urllib.error.HTTPError as exc:
        typer.echo(f"{base}{path}: HTTP {exc.code}: {exc.read().decode(errors='replace')[:200]}", err=True)
        raise typer.Exit(1) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        typer.echo(f"{base}{path}: cannot reach the engine's admin endpoint ({reason})", err=True)
        raise typer.Exit(1) from None


ConfigOpt = Annotated[Path | None, typer.Option("--config", help="The engine's config (address and token file).")]
UrlOpt = Annotated[str | None, typer.Option("--url", help="Admin endpoint, e.g. http://127.0.0.1:9465.")]
TokenOpt = Annotated[Path | None, typer.Option("--token-file", help="File holding the admin bearer token.")]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (recorded in the audit log).")]


def kill(
    reduce_only: Annotated[bool, typer.Option("--reduce-only", help="Allow only position-reducing orders.")] = False,
    reason: ReasonOpt = "manual",
    config: ConfigOpt = None,
    url: UrlOpt = None,
    token_file: TokenOpt = None,
) -> None:
    """Engage the kill switch: HALT (cancel everything, no new orders) or REDUCE_ONLY."""
    base, token = _target(config, url, token_file)
    mode = "reduce_only" if reduce_only else "halt"
    typer.echo(json.dumps(_call("POST", base, "/kill", token, {"mode": mode, "reason": reason}), sort_keys=True))


def resume(reason: ReasonOpt = "manual", config: ConfigOpt = None, url: UrlOpt = None,
           token_file: TokenOpt = None) -> None:
    """Release the kill switch and resume trading."""
    base, token = _target(config, url, token_file)
    typer.echo(json.dumps(_call("POST", base, "/resume", token, {"reason": reason}), sort_keys=True))


def status(config: ConfigOpt = None, url: UrlOpt = None, token_file: TokenOpt = None) -> None:
    """Print the engine's kill-switch and readiness state."""
    base, token = _target(config, url, token_file)
    typer.echo(json.dumps(_call("GET", base, "/status", token, None), sort_keys=True))
