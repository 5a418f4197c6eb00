from collections.abc import Iterable, Iterator, MutableMapping

from stanchion.book.l2 import JsonLevels, TextLevel
from stanchion.model.market import Level

class LevelMap(MutableMapping[int, int]):
    """A book side, int price -> int qty, ints unboxed in an open-addressing table."""

    def __init__(self, pairs: Iterable[tuple[int, int]] = ..., /) -> None: ...
    def __getitem__(self, key: int, /) -> int: ...
    def __setitem__(self, key: int, value: int, /) -> None: ...
    def __delitem__(self, key: int, /) -> None: ...
    def __iter__(self) -> Iterator[int]: ...
    def __len__(self) -> int: ...
    def copy(self) -> LevelMap: ...

def apply_side(
    side: LevelMap,
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
    bids: LevelMap,
    bid_heap: list[int],
    asks: LevelMap,
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

def apply_book_ints(
    bids: LevelMap,
    bid_heap: list[int],
    asks: LevelMap,
    ask_heap: list[int],
    bid_levels: Iterable[Level],
    ask_levels: Iterable[Level],
    best_bid: int,
    best_ask: int,
    big: int,
    /,
) -> tuple[int, int, int, int]: ...
