"""book layer (see ARCHITECTURE.md)."""
