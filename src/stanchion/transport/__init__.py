"""transport layer (see ARCHITECTURE.md)."""
