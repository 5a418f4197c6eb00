"""bus layer (see ARCHITECTURE.md)."""
