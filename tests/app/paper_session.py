"""A paper session for the crash and drift tests: the simulator in this process, ``stanchion run``
as a child process against it (or an in-process Application), truth read from the simulator.

The simulator's market is driven by :class:`MarketDriver` (``rate=0`` in the server, steps from
here) so a test can hold the market still while it compares the engine with the truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import msgspec

from stanchion.engine.oms import JournalKind, OrderIntentRecord
from stanchion.model.execution import Fill
from stanchion.persistence.journal import Journal
from stanchion.sim.binance import BinanceSimServer
from stanchion.sim.binance.config import DEFAULT_API_KEY, DEFAULT_API_SECRET
from stanchion.sim.types import ONE, AccountTruth, Rejected

CLI = [sys.executable, "-c", "from stanchion.cli.main import main; main()", "run"]
ACCOUNT = "default"  # the simulator's account of its default test key
SYMBOLS = {"BTCUSDT": "BTC", "ETHUSDT": "ETH"}


def write_paper_config(
    directory: Path,
    sim: BinanceSimServer,
    *,
    reconcile_interval_s: float = 1.0,
    drift_policy: str = "alert",
    cancel_on_shutdown: str = "keep",
    half_spread_bps: str = "1",
    armed_taker: bool = False,
) -> Path:
    """A ``mode: paper`` config against ``sim`` (JSON is YAML); keys in a 0600 file beside it."""
    keys = directory / "sim-key.json"
    keys.write_text(json.dumps({"api_key": DEFAULT_API_KEY, "api_secret": DEFAULT_API_SECRET}))
    keys.chmod(0o600)
    credential = {"provider": "file", "ref": str(keys)}
    config = {
        "deployment": "S",
        "mode": "paper",
        "venues": {"binance": {
            "kind": "binance", "account": "main", "symbols": sorted(SYMBOLS),
            "endpoints": {"rest": sim.rest_url, "ws_stream": sim.ws_stream_url, "ws_api": sim.ws_api_url},
            "credentials": {"key_type": "hmac", "api_key": {**credential, "key": "api_key"},
                            "api_secret": {**credential, "key": "api_secret"}},
            "staleness": {"liveness_timeout_s": 30, "book_stale_after_s": 10},
        }},
        "shards": [{"id": 0, "symbols": [f"binance:{s}" for s in sorted(SYMBOLS)]}],
        "risk": {
            "instruments": {
                "binance:BTCUSDT": {"max_order_qty": "0.5", "max_order_notional": "50000", "max_position": "2"},
                "binance:ETHUSDT": {"max_order_qty": "10", "max_order_notional": "50000", "max_position": "40"},
            },
            "account": {"max_gross_exposure": "400000", "max_net_exposure": "200000"},
            "portfolio": {"max_gross_exposure": "800000", "max_net_exposure": "400000"},
            "price_band_bps": 200, "max_orders_per_second": 50, "max_cancels_per_second": 100,
            "max_open_orders": 50, "daily_loss_limit": "50000", "max_drawdown": "75000", "loss_action": "halt",
        },
        "strategies": [{"name": "mm", "params": {
            "kind": "market_maker", "instruments": [f"binance:{s}" for s in sorted(SYMBOLS)],
            "quote_size": "0.01", "half_spread_bps": half_spread_bps, "max_inventory": "0.5",
            "skew_bps_per_unit": "20",
        }}] + ([{"name": "taker", "params": {
            # Buys in armed IOC clips when an ask shows at or under the mid: orders sent by the
            # depth frame itself (StrategyContext.arm), fills that race the market maker's.
            "kind": "armed_taker", "instruments": ["binance:BTCUSDT"], "side": "buy", "total_qty": "1",
            "clip_qty": "0.01", "edge_bps": 0, "rearm_bps": 2,
        }}] if armed_taker else []),
        "metrics": {"listen": "127.0.0.1:0"},
        "admin": {"listen": "127.0.0.1:0"},
        "journal": {"path": str(directory / "state" / "journal.sqlite")},
        "reconciliation": {"interval_s": reconcile_interval_s, "drift_policy": drift_policy,
                           "drift_threshold_pct": "1"},
        "shutdown": {"grace_s": 10, "cancel_on_shutdown": cancel_on_shutdown},
        "logging": {"level": "info", "format": "json"},
    }
    path = directory / "paper.yaml"
    path.write_text(json.dumps(config, indent=1))
    return path


class MarketDriver:
    """Steps the simulator's synthetic market (the server runs with ``rate=0``); pausable."""

    def __init__(self, sim: BinanceSimServer, steps_per_second: float) -> None:
        self.sim = sim
        self.interval_s = 1.0 / steps_per_second
        self.running = asyncio.Event()
        self.running.set()
        self.steps = 0

    async def run(self) -> None:
        while True:
            await self.running.wait()
            self.sim.step(1)
            self.steps += 1
            await asyncio.sleep(self.interval_s)  # the market's pace, not a wait for a condition


class DuplicateCounter:
    """Counts the simulator's -2010 "Duplicate order sent" rejects (wraps its exchange)."""

    def __init__(self, sim: BinanceSimServer) -> None:
        self.count = 0
        place = sim.exchange.place_order

        def counting(account: str, request: Any) -> Any:
            result = place(account, request)
            if isinstance(result, Rejected) and result.code == -2010 and "Duplicate" in result.msg:
                self.count += 1
            return result

        sim.exchange.place_order = counting  # type: ignore[method-assign]


def truth(sim: BinanceSimServer) -> AccountTruth:
    result = sim.exchange.account_truth(ACCOUNT)
    assert isinstance(result, AccountTruth), result
    return result


def balances(sim: BinanceSimServer) -> dict[str, int]:
    return {b.asset: b.free + b.locked for b in truth(sim).balances}


def truth_positions(sim: BinanceSimServer, start: dict[str, int]) -> dict[str, Decimal]:
    """Base-asset balance change since ``start``, per symbol, as a decimal."""
    now = balances(sim)
    return {f"binance:{s}": Decimal(now.get(b, 0) - start.get(b, 0)) / ONE for s, b in SYMBOLS.items()}


def truth_equity_change(sim: BinanceSimServer, start: dict[str, int]) -> Decimal:
    """Quote change plus each base change marked at the simulator's mid (what PnL must equal)."""
    now = balances(sim)
    total = Decimal(now.get("USDT", 0) - start.get("USDT", 0)) / ONE
    for symbol, base in SYMBOLS.items():
        depth = sim.exchange.depth(symbol, 1)
        assert not isinstance(depth, Rejected)
        mid = (depth.bids[0][0] + depth.asks[0][0]) // 2
        total += Decimal(now.get(base, 0) - start.get(base, 0)) / ONE * Decimal(mid) / ONE
    return total


@dataclass
class RunResult:
    returncode: int | None
    phases: list[str]
    reached_ready: bool
    lines: list[dict[str, Any]] = field(default_factory=list)


class EngineProcess:
    """One ``stanchion run --headless`` child; its JSON log lines are parsed as they come."""

    def __init__(self, config: Path, state_dir: Path, failpoints: str | None = None) -> None:
        self.config = config
        self.state_dir = state_dir
        self.failpoints = failpoints
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: list[dict[str, Any]] = []
        self.raw_tail: list[bytes] = []
        self._changed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self.admin_port: int | None = None

    async def start(self) -> None:
        env = dict(os.environ)
        env.pop("STANCHION_FAILPOINTS", None)
        if self.failpoints:
            env["STANCHION_FAILPOINTS"] = self.failpoints
        self.proc = await asyncio.create_subprocess_exec(
            *CLI, "--config", str(self.config), "--headless", "--state-dir", str(self.state_dir),
            "--metrics-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env,
            cwd=self.config.parent,
        )
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while True:
            line = await self.proc.stderr.readline()
            if not line:
                break
            self.raw_tail = [*self.raw_tail[-40:], line]
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict):
                    self.lines.append(record)
                    if record.get("event") == "started":
                        self.admin_port = record.get("admin_port")
            self._changed.set()
        await self.proc.wait()
        self._changed.set()

    @property
    def phases(self) -> list[str]:
        return [str(r.get("phase")) for r in self.lines if r.get("event") == "phase"]

    @property
    def exited(self) -> bool:
        return self.proc is not None and self.proc.returncode is not None

    async def wait_until(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        """Until ``condition()`` or the child exited; False on timeout."""
        try:
            async with asyncio.timeout(timeout_s):
                while not condition() and not (self.exited and (self._reader is None or self._reader.done())):
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            return False
        return condition()

    async def wait_ready(self, timeout_s: float = 60.0) -> bool:
        return await self.wait_until(lambda: "ready" in self.phases and self.admin_port is not None, timeout_s)

    async def wait_exit(self, timeout_s: float) -> int | None:
        assert self.proc is not None
        try:
            async with asyncio.timeout(timeout_s):
                await self.proc.wait()
                if self._reader is not None:
                    await self._reader
        except TimeoutError:
            return None
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)

    async def status(self) -> dict[str, Any] | None:
        """The admin endpoint's /status; None when the child is gone."""
        if self.admin_port is None or self.exited:
            return None
        token = (self.state_dir / "admin.token").read_text().strip()
        try:
            async with aiohttp.ClientSession() as session, session.get(
                f"http://127.0.0.1:{self.admin_port}/status", headers={"Authorization": f"Bearer {token}"},
                timeout=aiohttp.ClientTimeout(total=5),
            ) as response:
                result: dict[str, Any] = await response.json()
                return result
        except (aiohttp.ClientError, TimeoutError):
            return None

    def tail(self) -> str:
        return b"".join(self.raw_tail).decode(errors="replace")[-4000:]


def journal_fills(state_dir: Path) -> Counter[tuple[str, int]]:
    """(symbol, trade id) → how many FILL records the journal holds for it."""
    journal = Journal(state_dir / "journal-shard-0")
    history = journal.open()
    journal.close()
    decoder = msgspec.msgpack.Decoder(Fill)
    return Counter(
        (fill.symbol, fill.trade_id)
        for fill in (decoder.decode(r.body) for r in history if r.kind == "order.fill")
    )


def journal_intents(state_dir: Path) -> set[str]:
    journal = Journal(state_dir / "journal-shard-0")
    history = journal.open()
    journal.close()
    intents = {r.key for r in history if r.kind in (JournalKind.INTENT, JournalKind.ARMED_INTENT)}
    # A replace's record is keyed by the order it replaces; its body is the successor's intent.
    successor = msgspec.msgpack.Decoder(OrderIntentRecord)
    return intents | {successor.decode(r.body).client_order_id for r in history if r.kind == JournalKind.REPLACE_INTENT}
