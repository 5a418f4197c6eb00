"""The admin endpoint: bearer auth, kill/resume/status, hostile input, and the CLI against it."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import aiohttp

from stanchion.app.admin import AdminServer, new_token, write_token_file


class Actions:
    def __init__(self) -> None:
        self.state = "active"
        self.calls: list[tuple[str, str]] = []

    def kill(self, mode: str, reason: str) -> dict[str, Any]:
        self.calls.append((mode, reason))
        self.state = mode
        return {"kill_switch": self.state}

    def resume(self, reason: str) -> dict[str, Any]:
        self.calls.append(("resume", reason))
        self.state = "active"
        return {"kill_switch": self.state}

    def status(self) -> dict[str, Any]:
        return {"kill_switch": self.state, "ready": True}


async def _server(actions: Actions) -> AdminServer:
    server = AdminServer("127.0.0.1", 0, new_token(), actions)
    await server.start()
    return server


async def test_requires_the_bearer_token() -> None:
    actions = Actions()
    server = await _server(actions)
    base = f"http://127.0.0.1:{server.bound_port}"
    try:
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {server.token}"}):
                async with http.post(f"{base}/kill", headers=headers, json={"mode": "halt"}) as r:
                    assert r.status == 401
            assert actions.calls == []
            auth = {"Authorization": f"Bearer {server.token}"}
            async with http.post(f"{base}/kill", headers=auth, json={"mode": "reduce_only", "reason": "test"}) as r:
                assert r.status == 200 and (await r.json()) == {"kill_switch": "reduce_only"}
            async with http.post(f"{base}/kill", headers=auth, json={"mode": "explode"}) as r:
                assert r.status == 400
            async with http.post(f"{base}/kill", headers=auth, data=b"{not json") as r:
                assert r.status == 400
            async with http.post(f"{base}/kill", headers=auth, data=b"x" * 10_000) as r:
                assert r.status == 413
            async with http.get(f"{base}/kill", headers=auth) as r:
                assert r.status == 405
            async with http.get(f"{base}/nope", headers=auth) as r:
                assert r.status == 404
            async with http.get(f"{base}/status", headers=auth) as r:
                assert (await r.json())["kill_switch"] == "reduce_only"
    finally:
        await server.stop()
    assert actions.calls == [("reduce_only", "test")]


async def _cli(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "stanchion.cli.main", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_cli_kill_and_resume(tmp_path: Path) -> None:
    actions = Actions()
    server = await _server(actions)
    token_file = tmp_path / "admin.token"
    write_token_file(token_file, server.token)
    assert token_file.stat().st_mode & 0o777 == 0o600
    url = f"http://127.0.0.1:{server.bound_port}"
    try:
        code, out, err = await _cli("kill", "--reason", "fat finger", "--url", url, "--token-file", str(token_file))
        assert code == 0, err
        assert json.loads(out) == {"kill_switch": "halt"}
        code, out, _ = await _cli("resume", "--url", url, "--token-file", str(token_file))
        assert code == 0 and json.loads(out) == {"kill_switch": "active"}
        bad = tmp_path / "bad.token"
        bad.write_text("nope")
        code, _, err = await _cli("kill", "--url", url, "--token-file", str(bad))
        assert code == 1 and "HTTP 401" in err and "Traceback" not in err
    finally:
        await server.stop()
    code, _, err = await _cli("status", "--url", url, "--token-file", str(token_file))
    assert code == 1 and "cannot reach" in err
    assert actions.calls == [("halt", "fat finger"), ("resume", "manual")]
