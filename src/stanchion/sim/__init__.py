"""sim layer (see ARCHITECTURE.md)."""
