"""The operator endpoint: kill switch and resume, authenticated, loopback by default.

Every request needs ``Authorization: Bearer <token>``. The token comes from the
config (``admin.auth.token``, a secret reference) or, when none is configured
(loopback only — the config rules refuse anything else), is generated at start
and written to ``<state dir>/admin.token`` with mode 0600, where
``stanchion kill`` and ``stanchion resume`` read it. Every call is logged with
its outcome (the audit trail); the token never is.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from stanchion.core.redaction import register_secret
from stanchion.observability.logging import get_logger

MAX_BODY = 4096
_log = get_logger("stanchion.admin")


class AdminActions(Protocol):
    def kill(self, mode: str, reason: str) -> dict[str, Any]: ...

    def resume(self, reason: str) -> dict[str, Any]: ...

    def status(self) -> dict[str, Any]: ...


def new_token() -> str:
    return secrets.token_urlsafe(32)


def write_token_file(path: Path, token: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, token.encode())
    finally:
        os.close(fd)
    os.chmod(path, 0o600)


@dataclass
class AdminServer:
    host: str
    port: int
    token: str
    actions: AdminActions
    _runner: web.AppRunner | None = None
    bound_port: int = 0

    async def start(self) -> None:
        register_secret(self.token)
        app = web.Application(client_max_size=MAX_BODY, middlewares=[self._auth])
        app.router.add_get("/status", self._status)
        app.router.add_post("/kill", self._kill)
        app.router.add_post("/resume", self._resume)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        addresses = self._runner.addresses
        self.bound_port = int(addresses[0][1]) if addresses else self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme != "Bearer" or not hmac.compare_digest(presented.encode(), self.token.encode()):
            _log.warning("admin_denied", path=request.path, remote=request.remote)
            return _json({"error": "unauthorized"}, 401)
        response: web.StreamResponse = await handler(request)
        return response

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        try:
            data = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise web.HTTPBadRequest(text='{"error": "body must be a JSON object"}',
                                     content_type="application/json") from None
        if not isinstance(data, dict):
            raise web.HTTPBadRequest(text='{"error": "body must be a JSON object"}', content_type="application/json")
        return data

    async def _status(self, request: web.Request) -> web.Response:
        return _json(self.actions.status(), 200)

    async def _kill(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        mode = body.get("mode", "halt")
        reason = str(body.get("reason", ""))[:200]
        if mode not in ("halt", "reduce_only"):
            return _json({"error": "mode must be 'halt' or 'reduce_only'"}, 400)
        result = self.actions.kill(mode, reason)
        _log.warning("admin_kill", mode=mode, reason=reason, result=result)
        return _json(result, 200)

    async def _resume(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        reason = str(body.get("reason", ""))[:200]
        result = self.actions.resume(reason)
        _log.warning("admin_resume", reason=reason, result=result)
        return _json(result, 200)


def _json(data: dict[str, Any], status: int) -> web.Response:
    return web.Response(text=json.dumps(data, sort_keys=True), status=status, content_type="application/json")
