"""The composition root: the only place that picks concrete adapters and wires them."""
