from collections.abc import Iterable

from stanchion.book.l2 import JsonLevels, TextLevel

def apply_side(
    side: dict[int, int],
    heap: list[int],
    levels: Iterable[TextLevel],
    best: int,
    is_bid: bool,
    price_scale: int,
    qty_scale: int,
    big: int,
    /,
) -> tuple[int, Iterable[TextLevel] | None]: ...

def apply_book_json(
    bids: dict[int, int],
    bid_heap: list[int],
    asks: dict[int, int],
    ask_heap: list[int],
    bids_json: JsonLevels,
    asks_json: JsonLevels,
    best_bid: int,
    best_ask: int,
    price_scale: int,
    qty_scale: int,
    big: int,
    /,
) -> tuple[int, int, int, int]: ...
