"""venues layer (see ARCHITECTURE.md)."""
