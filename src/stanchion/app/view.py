"""The live terminal view of ``stanchion run`` and the summary of ``--headless``.

Pure rendering: the runtime builds a :class:`ViewModel` a few times per second
from the kernel, the venue adapters and the latency samples; this module turns
it into rich tables (or a plain-text summary). Prices are formatted exactly from
fixed-point; only latencies and PnL percentages are floats.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text


@dataclass(frozen=True, slots=True)
class VenueRow:
    venue: str
    connection: str
    reconnects: int
    messages: int
    rate_limit_ratio: float


@dataclass(frozen=True, slots=True)
class BookRow:
    key: str
    state: str
    best_bid: str
    best_ask: str
    age_ms: float | None


@dataclass(frozen=True, slots=True)
class OrderRow:
    client_order_id: str
    key: str
    side: str
    price: str
    qty: str
    filled: str
    status: str


@dataclass(frozen=True, slots=True)
class PositionRow:
    key: str
    qty: str
    average_price: str
    realised: str
    unrealised: str
    fees: str


@dataclass(frozen=True, slots=True)
class ViewModel:
    mode: str
    ready: bool
    kill_switch: str
    kill_cause: str | None
    uptime_s: float
    venues: list[VenueRow] = field(default_factory=list)
    books: list[BookRow] = field(default_factory=list)
    orders: list[OrderRow] = field(default_factory=list)
    positions: list[PositionRow] = field(default_factory=list)
    total_pnl: str = "0"
    orders_sent: int = 0
    fills: int = 0
    risk_denials: int = 0
    reconnects: int = 0
    tick_to_order_p50_us: float | None = None
    tick_to_order_p99_us: float | None = None
    max_orders_shown: int = 12


def _latency(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} µs"


def render(model: ViewModel) -> RenderableType:
    state = "[green]READY[/]" if model.ready else "[yellow]STARTING[/]"
    switch = "[green]active[/]" if model.kill_switch == "active" else f"[red]{model.kill_switch}[/]"
    header = Text.from_markup(
        f"[b]Stanchion[/b] {model.mode}  {state}  kill switch: {switch}"
        + (f" ({model.kill_cause})" if model.kill_cause else "")
        + f"  uptime {model.uptime_s:,.0f}s  PnL [b]{model.total_pnl}[/b]"
        + f"  tick→order p50 {_latency(model.tick_to_order_p50_us)} p99 {_latency(model.tick_to_order_p99_us)}"
    )
    venues = Table(title="Connections", expand=True)
    for column in ("venue", "state", "reconnects", "messages", "rate limit used"):
        venues.add_column(column)
    for v in model.venues:
        venues.add_row(v.venue, v.connection, str(v.reconnects), f"{v.messages:,}", f"{v.rate_limit_ratio:.0%}")
    books = Table(title="Books", expand=True)
    for column in ("instrument", "state", "best bid", "best ask", "age"):
        books.add_column(column)
    for b in model.books:
        colour = "green" if b.state == "LIVE" else "yellow"
        age = "-" if b.age_ms is None else f"{b.age_ms:,.0f} ms"
        books.add_row(b.key, f"[{colour}]{b.state}[/]", b.best_bid, b.best_ask, age)
    orders = Table(title=f"Open orders ({len(model.orders)})", expand=True)
    for column in ("client order id", "instrument", "side", "price", "qty", "filled", "status"):
        orders.add_column(column)
    for o in model.orders[: model.max_orders_shown]:
        orders.add_row(o.client_order_id, o.key, o.side, o.price, o.qty, o.filled, o.status)
    positions = Table(title="Positions", expand=True)
    for column in ("instrument", "qty", "avg price", "realised", "unrealised", "fees"):
        positions.add_column(column)
    for p in model.positions:
        positions.add_row(p.key, p.qty, p.average_price, p.realised, p.unrealised, p.fees)
    footer = Text(
        f"orders sent {model.orders_sent:,}  fills {model.fills:,}  risk denials {model.risk_denials:,}  "
        f"reconnects {model.reconnects:,}   Ctrl-C stops (cancel-on-shutdown applies)"
    )
    return Group(header, venues, books, orders, positions, footer)


def summary(model: ViewModel) -> str:
    """The plain-text summary printed when a headless run ends."""
    lines = [
        f"stanchion run: {model.mode}, {model.uptime_s:,.1f}s, ready={model.ready}, kill switch={model.kill_switch}",
        f"orders sent: {model.orders_sent}  fills: {model.fills}  risk denials: {model.risk_denials}  "
        f"reconnects: {model.reconnects}",
        f"PnL: {model.total_pnl}",
        f"tick-to-order latency: p50 {_latency(model.tick_to_order_p50_us)}  "
        f"p99 {_latency(model.tick_to_order_p99_us)}",
    ]
    lines.extend(
        f"position {p.key}: qty {p.qty} avg {p.average_price} realised {p.realised} "
        f"unrealised {p.unrealised} fees {p.fees}"
        for p in model.positions
    )
    lines.extend(f"book {b.key}: {b.state} bid {b.best_bid} ask {b.best_ask}" for b in model.books)
    return "\n".join(lines)
