"""ops layer (see ARCHITECTURE.md)."""
