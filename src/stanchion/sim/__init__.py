"""sim layer (see ARCHITECTURE.md): simulated venues.

Pure core (no I/O, injected clock, seeded randomness), prices/quantities as
ints at scale 8:

* ``exchange`` — :class:`~stanchion.sim.exchange.SimExchange`, the public API
  the servers call (orders, queries, market data, ``step()``, events, truth).
* ``types`` — requests, results, views and events it returns.
* ``filters`` — ``SymbolSpec`` (+ exchangeInfo JSON) and Binance's filters.
* ``matching`` — one book per symbol, price-time priority, STP.
* ``accounts`` — balances free/locked, fees, conservation bookkeeping.
* ``market`` — the seeded synthetic market (fair-price walk and agents).
* ``truth`` — the book at any update id of a bounded recent window.

``binance/`` is the I/O side: the Binance Spot server over this core.
"""
