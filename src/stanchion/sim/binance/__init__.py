"""Binance Spot simulator server: REST, WebSocket streams, WebSocket API, faults, truth.

Embed it::

    async with BinanceSimServer(SimServerConfig()) as sim:
        sim.rest_url, sim.ws_stream_url, sim.ws_api_url, sim.control_url
"""

from stanchion.sim.binance.config import KeySpec, SimServerConfig
from stanchion.sim.binance.server import BinanceSimServer

__all__ = ["BinanceSimServer", "KeySpec", "SimServerConfig"]
