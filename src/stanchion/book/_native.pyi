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

def apply_side_json(
    side: dict[int, int],
    heap: list[int],
    levels_json: JsonLevels,
    best: int,
    is_bid: bool,
    price_scale: int,
    qty_scale: int,
    big: int,
    /,
) -> tuple[int, int]: ...
