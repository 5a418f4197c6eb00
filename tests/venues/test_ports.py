"""The engine-facing ports: the book implementation satisfies the read-only view."""

from __future__ import annotations

from stanchion.book.l2 import L2Book
from stanchion.venues.ports import BookView


def test_l2_book_is_a_book_view() -> None:
    book = L2Book("BTCUSDT")
    book.apply([(100, 1)], [(101, 2)])
    view: BookView = book
    assert isinstance(view, BookView)
    assert view.best_bid() == (100, 1) and view.best_ask() == (101, 2) and not view.is_crossed()
