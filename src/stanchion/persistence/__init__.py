"""persistence layer (see ARCHITECTURE.md)."""
