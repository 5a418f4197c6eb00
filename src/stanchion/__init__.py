"""Stanchion: crypto-trading infrastructure with real venue protocols and one risk gate."""

__version__ = "0.1.0"
