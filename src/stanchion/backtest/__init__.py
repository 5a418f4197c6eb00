"""backtest layer (see ARCHITECTURE.md)."""
