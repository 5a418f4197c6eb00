"""observability layer (see ARCHITECTURE.md)."""
