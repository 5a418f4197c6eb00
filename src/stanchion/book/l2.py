"""An exact L2 book on fixed-point ints, built for CPython speed.

Each side is a mapping price → qty (absolute quantities; qty 0 removes the
level): a ``LevelMap`` from the compiled module (ints stored unboxed in an
open-addressing table, decision 0003 §8) or, without it, a ``dict``; the Python
path below runs on either. The best price of each side is cached and maintained incrementally:

* inserting a new level only compares it with the cached best;
* removing the best level marks the cache dirty; the next read pops a heap of
  that side's prices (lazy deletion: prices whose level is gone are skipped)
  until the top is a live level.

The heap holds every live price at least once (a price is pushed when its level
is created) plus dead entries; it is rebuilt from the dict when dead entries
outnumber live ones, so memory stays proportional to the book.

Sentinels instead of ``None`` keep the update loop to one comparison per
insert: for bids "empty" is -1 (any price beats it) and "dirty" is a value
above any price (no price beats it, no price equals it); for asks the reverse.

Venues send levels as decimal strings. :meth:`L2Book.apply_text` parses them
straight into the update loop (one pass, no intermediate tuples): a price string
seen recently is one lookup in a bounded memo (prices repeat near the top of a
book); a new string of the exact shape ``<digits>.<scale digits>`` is converted
inline (``isdigit() and isascii()`` after removing the one dot admit exactly the
ASCII digits; the dot's position fixes the scale); anything else goes through
``parse_fixed``, which accepts every valid form and explains invalid ones.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, MutableMapping
from types import ModuleType
from typing import Final

import msgspec

from stanchion.core.errors import ParseError
from stanchion.core.fixedpoint import MAX_WHOLE_DIGITS, parse_fixed
from stanchion.model.market import BookDelta, BookSnapshot, Level

_native_module: ModuleType | None
try:  # the compiled per-level loop (setup.py); the Python path below is its reference
    from stanchion.book import _native as _native_module
except ImportError:  # built with STANCHION_PURE_PYTHON=1, or no compiler: the Python path alone
    _native_module = None

NATIVE_AVAILABLE: Final = _native_module is not None
"""Whether ``stanchion.book._native`` was built; books use it unless told not to."""

_BIG: Final = 1 << 200  # above any price a venue can send (20 integer digits + 18 decimals < 2**200)
_BID_EMPTY: Final = -1
_BID_DIRTY: Final = _BIG
_ASK_EMPTY: Final = _BIG
_ASK_DIRTY: Final = -1
_COMPACT_SLACK: Final = 64
DEFAULT_PRICE_MEMO: Final = 65_536
# apply_book_json's status (see _native.c)
_APPLIED: Final = 0
_CROSSED: Final = 1
_FINISH: Final = 2
_BIDS_STOPPED: Final = 3
_ASKS_STOPPED: Final = 4

Side = MutableMapping[int, int]
"""One side of a book, price → qty: a ``LevelMap`` with the compiled module, else a ``dict``."""

if _native_module is not None:
    MutableMapping.register(_native_module.LevelMap)

TextLevel = tuple[str, str]
"""``("price", "qty")`` as the venue wrote them (Binance: ``["0.35130000", "6195.00000000"]``)."""


JsonLevels = bytes | bytearray | memoryview | msgspec.Raw
"""The bytes of a JSON array of ``["price", "qty"]`` string pairs, as the venue sent it
(``bytes``, ``memoryview`` or ``msgspec.Raw``: Binance's ``"b"``/``"a"`` arrays)."""

_levels_decoder: Final = msgspec.json.Decoder(list[tuple[str, str]])


def decode_levels(levels_json: JsonLevels) -> list[TextLevel]:
    """A JSON levels array → ``[(price, qty), ...]`` strings; ParseError when it is not one."""
    try:
        return _levels_decoder.decode(levels_json)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ParseError(f"malformed levels array: {exc}") from exc


def _shape(scale: int) -> tuple[int, int, int]:
    """(dot index from the end, min length, max length) of ``<digits>.<scale digits>``;
    scale 0 has no such shape (min length unreachable: always parse_fixed)."""
    return (-(scale + 1), scale + 2 if scale else 1 << 30, scale + 1 + MAX_WHOLE_DIGITS)


class L2Book:
    """Price-level book for one symbol. Not thread-safe (one event loop)."""

    __slots__ = (
        "_ask_heap",
        "_asks",
        "_best_ask",
        "_best_bid",
        "_bid_heap",
        "_bids",
        "_memo_limit",
        "_native",
        "_native_ints",
        "_native_json",
        "_price_memo",
        "_price_shape",
        "_qty_shape",
        "_qty_zero",
        "_side_type",
        "price_scale",
        "qty_scale",
        "symbol",
    )

    def __init__(
        self,
        symbol: str,
        *,
        price_scale: int = 8,
        qty_scale: int = 8,
        price_memo: int = DEFAULT_PRICE_MEMO,
        native: bool | None = None,
    ) -> None:
        """``price_scale``/``qty_scale``: decimals of the ints (Binance writes 8).

        ``native``: apply decimal-string levels with the compiled loop (None: when it
        was built; False: the Python reference path only; True: require it).
        """
        module = _native_module if native is not False else None
        if native and module is None:
            raise RuntimeError("stanchion.book._native is not built (installed with STANCHION_PURE_PYTHON=1?)")
        if price_memo <= 0:
            raise ValueError("price_memo must be positive")
        self.symbol = symbol
        self.price_scale = price_scale
        self.qty_scale = qty_scale
        self._price_memo: dict[str, int] = {}
        self._memo_limit = price_memo
        self._price_shape = _shape(price_scale)
        self._qty_shape = _shape(qty_scale)
        self._qty_zero = "0." + "0" * qty_scale if qty_scale else "0"
        self._side_type: Callable[..., Side] = module.LevelMap if module is not None else dict
        self._bids: Side = self._side_type()
        self._asks: Side = self._side_type()
        self._bid_heap: list[int] = []  # negated prices: a max-heap
        self._ask_heap: list[int] = []
        self._best_bid = _BID_EMPTY
        self._best_ask = _ASK_EMPTY
        self._native = module.apply_side if module is not None else None
        self._native_json = module.apply_book_json if module is not None else None
        self._native_ints = module.apply_book_ints if module is not None else None

    @property
    def native(self) -> bool:
        """True when decimal-string levels go through the compiled loop."""
        return self._native is not None

    # --- writes ----------------------------------------------------------------------

    def clear(self) -> None:
        """Empty the book (the price memo is kept: it holds no book state)."""
        self._bids.clear()
        self._asks.clear()
        self._bid_heap.clear()
        self._ask_heap.clear()
        self._best_bid = _BID_EMPTY
        self._best_ask = _ASK_EMPTY

    def load(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Replace the whole book (a snapshot). Zero quantities are skipped."""
        side_type = self._side_type
        self._bids = side_type((p, q) for p, q in bids if q)
        self._asks = side_type((p, q) for p, q in asks if q)
        self._bid_heap = [-p for p in self._bids]
        self._ask_heap = list(self._asks)
        heapq.heapify(self._bid_heap)
        heapq.heapify(self._ask_heap)
        self._best_bid = _BID_DIRTY if self._bids else _BID_EMPTY
        self._best_ask = _ASK_DIRTY if self._asks else _ASK_EMPTY

    def load_snapshot(self, snapshot: BookSnapshot) -> None:
        self.load(snapshot.bids, snapshot.asks)

    def apply_delta(self, delta: BookDelta) -> None:
        self.apply(delta.bids, delta.asks)

    def apply(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Apply absolute level updates in order (qty 0 removes the level).

        With the compiled module, lists and tuples of int pairs go through
        ``apply_book_ints``; it stops before the first level it does not take (not a
        pair of exact ints, a price beyond 18 digits) and this Python path applies
        the rest, with the same result.
        """
        native = self._native_ints
        if native is None:
            self._apply_py(bids, asks)
            return
        best_bid, best_ask, status, index = native(
            self._bids, self._bid_heap, self._asks, self._ask_heap, bids, asks, self._best_bid, self._best_ask, _BIG
        )
        self._best_bid = best_bid
        self._best_ask = best_ask
        if status == _BIDS_STOPPED:
            self._apply_py(list(bids)[index:], asks)
        elif status == _ASKS_STOPPED:
            self._apply_py((), list(asks)[index:])
        elif status == _FINISH:
            self._compact()

    def _compact(self) -> None:
        """Rebuild a heap that is mostly dead entries (memory stays proportional to the book)."""
        heap = self._bid_heap
        side = self._bids
        if len(heap) > 2 * len(side) + _COMPACT_SLACK:
            self._bid_heap = [-p for p in side]
            heapq.heapify(self._bid_heap)
        heap = self._ask_heap
        side = self._asks
        if len(heap) > 2 * len(side) + _COMPACT_SLACK:
            self._ask_heap = list(side)
            heapq.heapify(self._ask_heap)

    def _apply_py(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """The Python reference path of :meth:`apply`."""
        # Locals: attribute and global lookups dominate a tight CPython loop.
        push = heapq.heappush
        side = self._bids
        heap = self._bid_heap
        best = self._best_bid
        for price, qty in bids:
            if qty:
                if price not in side:
                    push(heap, -price)
                    if price > best:  # noqa: PLR1730  (max() is a call: slower in this loop)
                        best = price
                side[price] = qty
            elif side.pop(price, None) is not None and price == best:
                best = _BID_DIRTY
        self._best_bid = best
        if len(heap) > 2 * len(side) + _COMPACT_SLACK:
            self._bid_heap = [-p for p in side]
            heapq.heapify(self._bid_heap)

        side = self._asks
        heap = self._ask_heap
        best = self._best_ask
        for price, qty in asks:
            if qty:
                if price not in side:
                    push(heap, price)
                    if price < best:  # noqa: PLR1730
                        best = price
                side[price] = qty
            elif side.pop(price, None) is not None and price == best:
                best = _ASK_DIRTY
        self._best_ask = best
        if len(heap) > 2 * len(side) + _COMPACT_SLACK:
            self._ask_heap = list(side)
            heapq.heapify(self._ask_heap)

    def apply_text(self, bids: Iterable[TextLevel], asks: Iterable[TextLevel]) -> None:
        """Apply decimal-string level updates (the venue's own text), parsed exactly.

        Raises :class:`ParseError` on a malformed number; levels before it in the
        message are applied already, so the caller must treat the book as wrong
        (the syncer resyncs).
        """
        self.apply_text_crossed(bids, asks)

    def apply_text_crossed(self, bids: Iterable[TextLevel], asks: Iterable[TextLevel]) -> bool:
        """:meth:`apply_text`, then :meth:`is_crossed`, in one call (the sync hot path).

        With the compiled loop (``_native.apply_side``), each side's levels go
        through it first; it stops before the first level that is not in the exact
        ``<digits>.<scale digits>`` shape of at most 18 digits and returns the rest,
        which the Python path applies (and explains, when malformed) — so the
        result is the Python path's, level by level.
        """
        native = self._native
        if native is None:
            return self._apply_text_py(bids, asks)
        big = _BIG
        best, rest = native(
            self._bids, self._bid_heap, bids, self._best_bid, True, self.price_scale, self.qty_scale, big
        )
        self._best_bid = best
        if rest is not None:
            return self._apply_text_py(rest, asks)
        best, rest = native(
            self._asks, self._ask_heap, asks, self._best_ask, False, self.price_scale, self.qty_scale, big
        )
        self._best_ask = best
        if rest is not None:
            return self._apply_text_py((), rest)
        return self._compact_and_crossed()

    def apply_json_crossed(self, bids_json: JsonLevels, asks_json: JsonLevels) -> bool:
        """:meth:`apply_text_crossed` with each side as the bytes of its JSON levels array.

        The compiled loop parses the arrays straight into the book, with no string
        or tuple objects in between; at the first level it does not take (another
        shape, an escape, anything unexpected) the array is decoded and the rest
        goes through the Python path, which raises ParseError when it is malformed
        (levels before it may be applied: the caller must discard the book, as for
        :meth:`apply_text`). Without the compiled loop: decode, then the Python path.
        """
        native = self._native_json
        if native is None:
            return self._apply_text_py(decode_levels(bids_json), decode_levels(asks_json))
        best_bid, best_ask, status, index = native(
            self._bids, self._bid_heap, self._asks, self._ask_heap, bids_json, asks_json,
            self._best_bid, self._best_ask, self.price_scale, self.qty_scale, _BIG,
        )
        self._best_bid = best_bid
        self._best_ask = best_ask
        if status == _APPLIED:
            return False
        if status == _CROSSED:
            return True
        if status == _FINISH:
            return self._compact_and_crossed()
        if status == _BIDS_STOPPED:
            return self._apply_text_py(decode_levels(bids_json)[index:], decode_levels(asks_json))
        return self._apply_text_py((), decode_levels(asks_json)[index:])

    def _compact_and_crossed(self) -> bool:
        """After the compiled loop: rebuild a heap that is mostly dead entries; the crossed check."""
        self._compact()
        bid = self._best_bid
        ask = self._best_ask
        if bid == _BID_DIRTY or ask == _ASK_DIRTY:
            return self.is_crossed()  # recomputes the dirty side first
        return bid >= ask  # an empty side never crosses (sentinels)

    def _apply_text_py(self, bids: Iterable[TextLevel], asks: Iterable[TextLevel]) -> bool:  # noqa: C901, PLR0912, PLR0915
        """The Python reference path of :meth:`apply_text_crossed`.

        Both sides are one method body and the crossed check is folded in on
        purpose: per side, a method call and its locals set-up, plus the separate
        ``is_crossed()`` call, were ~1.5 % of a whole Binance diff's instructions
        (callgrind, decision 0003 §5). The parsing rule is exactly
        :meth:`apply_text`'s; it is checked against ``parse_fixed`` by the
        property tests.
        """
        memo_get = self._price_memo.get
        new_price = self._new_price
        q_dot, q_min, q_max = self._qty_shape
        q_scale = self.qty_scale
        zero = self._qty_zero
        push = heapq.heappush

        side = self._bids
        heap = self._bid_heap
        best = bid = self._best_bid
        try:
            for price_text, qty_text in bids:
                price = memo_get(price_text)
                if price is None:
                    price = new_price(price_text)
                if qty_text == zero:  # a removal: the commonest quantity by far
                    if side.pop(price, None) is not None and price == best:
                        best = _BID_DIRTY
                    continue
                if (
                    q_min <= len(qty_text) <= q_max
                    and qty_text[q_dot] == "."
                    and (digits := qty_text.replace(".", "", 1)).isdigit()
                    and digits.isascii()
                ):
                    qty = int(digits)
                else:
                    qty = parse_fixed(qty_text, q_scale)
                if qty:
                    if price not in side:
                        push(heap, -price)
                        if price > best:  # noqa: PLR1730  (max() is a call: slower in this loop)
                            best = price
                    side[price] = qty
                elif side.pop(price, None) is not None and price == best:
                    best = _BID_DIRTY
        except ParseError:
            raise
        except (TypeError, AttributeError, ValueError) as exc:  # a level that is not two strings
            raise ParseError(f"{self.symbol}: malformed bid level: {exc}") from exc
        finally:
            self._best_bid = bid = best
        if len(heap) > 2 * len(side) + _COMPACT_SLACK:
            self._bid_heap = [-p for p in side]
            heapq.heapify(self._bid_heap)

        side = self._asks
        heap = self._ask_heap
        best = self._best_ask
        try:
            for price_text, qty_text in asks:
                price = memo_get(price_text)
                if price is None:
                    price = new_price(price_text)
                if qty_text == zero:
                    if side.pop(price, None) is not None and price == best:
                        best = _ASK_DIRTY
                    continue
                if (
                    q_min <= len(qty_text) <= q_max
                    and qty_text[q_dot] == "."
                    and (digits := qty_text.replace(".", "", 1)).isdigit()
                    and digits.isascii()
                ):
                    qty = int(digits)
                else:
                    qty = parse_fixed(qty_text, q_scale)
                if qty:
                    if price not in side:
                        push(heap, price)
                        if price < best:  # noqa: PLR1730
                            best = price
                    side[price] = qty
                elif side.pop(price, None) is not None and price == best:
                    best = _ASK_DIRTY
        except ParseError:
            raise
        except (TypeError, AttributeError, ValueError) as exc:
            raise ParseError(f"{self.symbol}: malformed ask level: {exc}") from exc
        finally:
            self._best_ask = best
        if len(heap) > 2 * len(side) + _COMPACT_SLACK:
            self._ask_heap = list(side)
            heapq.heapify(self._ask_heap)

        if bid == _BID_DIRTY or best == _ASK_DIRTY:
            return self.is_crossed()  # recomputes the dirty side first
        return bid >= best  # an empty side never crosses (sentinels)

    def parse_levels(self, levels: Iterable[TextLevel]) -> tuple[Level, ...]:
        """Decimal-string levels → int levels at this book's scales (same rules as apply_text)."""
        out: list[Level] = []
        try:
            for price_text, qty_text in levels:
                price = self._price_memo.get(price_text)
                if price is None:
                    price = self._new_price(price_text)
                out.append((price, self._parse(qty_text, self.qty_scale, self._qty_shape)))
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ParseError):
                raise
            raise ParseError(f"{self.symbol}: malformed level: {exc}") from exc
        return tuple(out)

    def _new_price(self, text: str) -> int:
        price = self._parse(text, self.price_scale, self._price_shape)
        memo = self._price_memo
        if len(memo) >= self._memo_limit:
            memo.clear()  # bounded: memory stays flat over days
        memo[text] = price
        return price

    def _parse(self, text: object, scale: int, shape: tuple[int, int, int]) -> int:
        if type(text) is not str:
            raise ParseError(f"{self.symbol}: expected a decimal string, got {type(text).__name__}")
        dot, low, high = shape
        if (
            low <= len(text) <= high
            and text[dot] == "."
            and (digits := text.replace(".", "", 1)).isdigit()
            and digits.isascii()
        ):
            return int(digits)
        return parse_fixed(text, scale)

    def set_level(self, is_bid: bool, price: int, qty: int) -> None:
        """One level update (tests and tools; the hot path uses :meth:`apply`)."""
        if is_bid:
            self.apply(((price, qty),), ())
        else:
            self.apply((), ((price, qty),))

    # --- reads -----------------------------------------------------------------------

    def best_bid_price(self) -> int | None:
        best = self._best_bid
        if best == _BID_DIRTY:
            best = self._recompute_bid()
        return None if best == _BID_EMPTY else best

    def best_ask_price(self) -> int | None:
        best = self._best_ask
        if best == _ASK_DIRTY:
            best = self._recompute_ask()
        return None if best == _ASK_EMPTY else best

    def best_bid(self) -> Level | None:
        """``(price, qty)`` of the best bid, or None when the side is empty."""
        best = self._best_bid
        if best == _BID_DIRTY:
            best = self._recompute_bid()
        return None if best == _BID_EMPTY else (best, self._bids[best])

    def best_ask(self) -> Level | None:
        best = self._best_ask
        if best == _ASK_DIRTY:
            best = self._recompute_ask()
        return None if best == _ASK_EMPTY else (best, self._asks[best])

    def is_crossed(self) -> bool:
        """True when best bid >= best ask: the book is wrong and must be resynced."""
        bid = self._best_bid
        if bid == _BID_DIRTY:
            bid = self._recompute_bid()
        ask = self._best_ask
        if ask == _ASK_DIRTY:
            ask = self._recompute_ask()
        # An empty side never crosses: empty bid is -1, empty ask is above any price.
        return bid >= ask

    def top(self, depth: int) -> tuple[list[Level], list[Level]]:
        """The ``depth`` best levels of each side: bids high→low, asks low→high."""
        bids = self._bids
        asks = self._asks
        bid_prices = heapq.nlargest(depth, bids) if depth < len(bids) else sorted(bids, reverse=True)
        ask_prices = heapq.nsmallest(depth, asks) if depth < len(asks) else sorted(asks)
        return [(p, bids[p]) for p in bid_prices], [(p, asks[p]) for p in ask_prices]

    def snapshot(self, last_update_id: int, depth: int | None = None) -> BookSnapshot:
        """The book (or its top ``depth`` levels) as an immutable snapshot."""
        bids, asks = self.top(depth if depth is not None else max(len(self._bids), len(self._asks)))
        return BookSnapshot(self.symbol, last_update_id, tuple(bids), tuple(asks))

    def bid_levels(self) -> dict[int, int]:
        """A copy of the bid side, price → qty."""
        return dict(self._bids)

    def ask_levels(self) -> dict[int, int]:
        return dict(self._asks)

    @property
    def bid_count(self) -> int:
        return len(self._bids)

    @property
    def ask_count(self) -> int:
        return len(self._asks)

    def same_levels(self, other: L2Book) -> bool:
        """Equal levels on both sides (the symbol is not compared)."""
        return self._bids == other._bids and self._asks == other._asks

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, L2Book):
            return NotImplemented
        return self.symbol == other.symbol and self.same_levels(other)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return (
            f"L2Book({self.symbol!r}, bids={len(self._bids)}, asks={len(self._asks)}, "
            f"best_bid={self.best_bid_price()}, best_ask={self.best_ask_price()})"
        )

    # --- internals -------------------------------------------------------------------

    def _recompute_bid(self) -> int:
        heap = self._bid_heap
        side = self._bids
        pop = heapq.heappop
        while heap and -heap[0] not in side:
            pop(heap)
        best = -heap[0] if heap else _BID_EMPTY
        self._best_bid = best
        return best

    def _recompute_ask(self) -> int:
        heap = self._ask_heap
        side = self._asks
        pop = heapq.heappop
        while heap and heap[0] not in side:
            pop(heap)
        best = heap[0] if heap else _ASK_EMPTY
        self._best_ask = best
        return best
