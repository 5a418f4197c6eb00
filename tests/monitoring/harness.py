"""Real Prometheus and Alertmanager processes for tests, on loopback ephemeral ports.

The scrape target is a parameter: the end-to-end test points Prometheus at a
``HealthServer`` it runs itself; pointing it at ``stanchion run --headless`` is a
matter of passing that process's ``host:port`` as ``targets``.

Gotchas handled here (reference/tooling.md §1): Alertmanager clusters unless
``--cluster.listen-address=`` is empty; Prometheus re-sends alerts only after
``--rules.alert.resend-delay`` (1 m by default), so it is 1 s; targets appear only
after the ~5 s discovery throttle, so callers poll ``up == 1`` instead of sleeping.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

from tests.conftest import REPO_ROOT

RULES = REPO_ROOT / "deploy" / "monitoring" / "prometheus" / "rules" / "trading.yml"
ALERTMANAGER_CONFIG = REPO_ROOT / "deploy" / "monitoring" / "alertmanager" / "alertmanager.yml"

PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
PROMTOOL = shutil.which("promtool")
AMTOOL = shutil.which("amtool")

MISSING_TOOLS = "Prometheus tools missing: run `bash scripts/install-system-deps.sh` (Debian packages prometheus, prometheus-alertmanager)"


def require(binary: str | None) -> str:
    if binary is None:
        raise RuntimeError(MISSING_TOOLS)
    return binary


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_until(check: Callable[[], Awaitable[Any]], timeout_s: float, what: str, interval: float = 0.2) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout_s
    last_error: BaseException | None = None
    while True:
        try:
            result = await check()
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            result, last_error = None, exc
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s}s waiting for {what} (last error: {last_error!r})")
        await asyncio.sleep(interval)


class ManagedProcess:
    """A child process with its output in a log file; stopped by its own pid."""

    def __init__(self, name: str, argv: list[str], workdir: Path) -> None:
        self.name = name
        self.argv = argv
        self.log_path = workdir / f"{name}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def check_alive(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self._proc.returncode}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


class Prometheus:
    def __init__(
        self,
        workdir: Path,
        targets: Iterable[str],
        rule_files: Iterable[Path] = (),
        alertmanager: str | None = None,
        job: str = "stanchion",
        interval: str = "1s",
    ) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config: dict[str, Any] = {
            "global": {"scrape_interval": interval, "evaluation_interval": interval, "scrape_timeout": interval},
            "rule_files": [str(p) for p in rule_files],
            "scrape_configs": [{"job_name": job, "static_configs": [{"targets": list(targets)}]}],
        }
        if alertmanager is not None:
            config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.process = ManagedProcess(
            "prometheus",
            [
                require(PROMETHEUS),
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--rules.alert.resend-delay=1s",
                "--log.level=warn",
            ],
            workdir,
        )

    async def start(self, session: aiohttp.ClientSession, timeout_s: float = 20) -> None:
        self.process.start()

        async def ready() -> bool:
            self.process.check_alive()
            async with session.get(f"{self.url}/-/ready") as resp:
                return resp.status == 200

        await wait_until(ready, timeout_s, "prometheus /-/ready")

    async def query(self, session: aiohttp.ClientSession, expr: str) -> list[dict[str, Any]]:
        self.process.check_alive()
        async with session.get(f"{self.url}/api/v1/query", params={"query": expr}) as resp:
            body = await resp.json()
        if body.get("status") != "success":
            raise ValueError(f"query {expr!r} failed: {body}")
        return list(body["data"]["result"])

    async def wait_up(self, session: aiohttp.ClientSession, job: str = "stanchion", timeout_s: float = 30) -> None:
        async def up() -> bool:
            result = await self.query(session, f'up{{job="{job}"}} == 1')
            return bool(result)

        await wait_until(up, timeout_s, f"up{{job={job!r}}} == 1")

    def stop(self) -> None:
        self.process.stop()


class Alertmanager:
    def __init__(self, workdir: Path, config: dict[str, Any]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.address = f"127.0.0.1:{self.port}"
        self.config_path = workdir / "alertmanager.yml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.process = ManagedProcess(
            "alertmanager",
            [
                require(ALERTMANAGER),
                f"--config.file={self.config_path}",
                f"--storage.path={workdir / 'amdata'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            workdir,
        )

    async def start(self, session: aiohttp.ClientSession, timeout_s: float = 20) -> None:
        self.process.start()

        async def ready() -> bool:
            self.process.check_alive()
            async with session.get(f"{self.url}/-/ready") as resp:
                return resp.status == 200

        await wait_until(ready, timeout_s, "alertmanager /-/ready")

    async def post_alerts(self, session: aiohttp.ClientSession, alerts: list[dict[str, Any]]) -> None:
        async with session.post(f"{self.url}/api/v2/alerts", json=alerts) as resp:
            if resp.status != 200:
                raise ValueError(f"alertmanager refused alerts: {resp.status} {await resp.text()}")

    async def alerts(self, session: aiohttp.ClientSession) -> list[dict[str, Any]]:
        async with session.get(f"{self.url}/api/v2/alerts") as resp:
            return list(await resp.json())

    def stop(self) -> None:
        self.process.stop()


@dataclass
class WebhookPost:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    def firing(self, alertname: str) -> list[dict[str, Any]]:
        return [
            a
            for a in self.body.get("alerts", [])
            if a.get("status") == "firing" and a.get("labels", {}).get("alertname") == alertname
        ]


@dataclass
class WebhookReceiver:
    """A local HTTP server standing in for the pager and for Slack: records every POST."""

    posts: list[WebhookPost] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    async def _record(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"raw": raw.decode("utf-8", "replace")}
        self.posts.append(WebhookPost(request.path, dict(request.headers), body))
        return web.Response(text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._record)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def wait_for(self, predicate: Callable[[WebhookPost], bool], timeout_s: float, what: str) -> WebhookPost:
        async def found() -> WebhookPost | None:
            return next((p for p in self.posts if predicate(p)), None)

        result: WebhookPost = await wait_until(found, timeout_s, what)
        return result

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def alertmanager_test_config(
    webhook: WebhookReceiver, workdir: Path, token: str = "test-pager-token"
) -> dict[str, Any]:
    """The shipped alertmanager.yml with receivers pointed at ``webhook`` and short timings.

    Routing, grouping and inhibition are kept as shipped; only where alerts go and how
    long Alertmanager waits change.
    """
    config: dict[str, Any] = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    token_file = workdir / "pager-token"
    token_file.write_text(token)
    slack_url_file = workdir / "slack-url"
    slack_url_file.write_text(webhook.url("/slack"))
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = webhook.url(f"/{receiver['name']}")
            hook["http_config"]["authorization"]["credentials_file"] = str(token_file)
        for slack in receiver.get("slack_configs", []):
            slack["api_url_file"] = str(slack_url_file)

    def shorten(route: dict[str, Any]) -> None:
        for key in ("group_wait", "group_interval"):
            if key in route:
                route[key] = "1s"
        for child in route.get("routes", []):
            shorten(child)

    shorten(config["route"])
    return config


def fast_rules(workdir: Path, overrides: dict[str, tuple[str, str]]) -> Path:
    """A copy of the shipped rules where ``overrides[alert] = (old, new)`` rewrites that
    alert's expression (e.g. a 30 s threshold to 2 s) and drops its ``for``.

    Fails if ``old`` is not in the expression, so the test never silently exercises
    something other than the shipped rule.
    """
    doc: dict[str, Any] = yaml.safe_load(RULES.read_text())
    seen: set[str] = set()
    for group in doc["groups"]:
        group["interval"] = "1s"
        for rule in group["rules"]:
            name = rule.get("alert")
            if name in overrides:
                old, new = overrides[name]
                if old not in rule["expr"]:
                    raise AssertionError(f"{name}: {old!r} not in shipped expression {rule['expr']!r}")
                rule["expr"] = rule["expr"].replace(old, new)
                rule.pop("for", None)
                seen.add(name)
    missing = set(overrides) - seen
    if missing:
        raise AssertionError(f"alerts not found in {RULES.name}: {sorted(missing)}")
    path = workdir / "rules-fast.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def run_tool(argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, env={**os.environ})
