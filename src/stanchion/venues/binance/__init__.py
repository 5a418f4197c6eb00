"""venues/binance layer (see ARCHITECTURE.md)."""
