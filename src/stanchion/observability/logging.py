"""Structured JSON logging with redaction of anything secret.

One call, :func:`configure_logging`, at the composition root. Every event goes
through :func:`redact_event`: values under secret-looking keys become ``***``
and every registered secret value is scrubbed from every string, including
exception text and tracebacks. Standard-library loggers (aiohttp, asyncio)
are routed through the same processors.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog

from stanchion.core.redaction import REDACTED, is_secret_key, redact_text

_MAX_DEPTH = 6


def _redact_value(key: str, value: Any, depth: int) -> Any:
    if is_secret_key(key):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if depth >= _MAX_DEPTH:
        return value
    if isinstance(value, Mapping):
        return {k: _redact_value(str(k), v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(key, v, depth + 1) for v in value]
    if isinstance(value, bytes):
        return redact_text(value.decode("utf-8", "replace"))
    return value


def redact_event(_logger: object, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: redact by key and by registered value."""
    for key in list(event_dict):
        event_dict[key] = _redact_value(key, event_dict[key], 0)
    return event_dict


def _final_scrub(_logger: object, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    # format_exc_info renders tracebacks to text after the first pass; scrub again.
    for key in ("exception", "stack"):
        value = event_dict.get(key)
        if isinstance(value, str):
            event_dict[key] = redact_text(value)
    return event_dict


def _processors(*, foreign: bool = False) -> list[Any]:
    named = [structlog.stdlib.add_logger_name] if foreign else []
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        *named,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_event,
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        _final_scrub,
    ]


def configure_logging(level: str = "info", fmt: str = "json", stream: TextIO | None = None) -> None:
    """Configure structlog and the standard library to emit one JSON object per line."""
    out = stream if stream is not None else sys.stderr
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=True)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    numeric = getattr(logging, level.upper())
    structlog.configure(
        processors=[*_processors(), renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=_processors(foreign=True),
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)


def get_logger(name: str | None = None, **initial: Any) -> Any:
    """A bound structlog logger; ``initial`` key/values are attached to every event."""
    if name is not None:
        initial = {"logger": name, **initial}
    return _LazyLogger(initial)


class _LazyLogger:
    """Module-level loggers are made at import, before :func:`configure_logging`; binding
    then would freeze structlog's defaults (console text on stdout) into them. This one
    binds at each call, so it always follows the current configuration (logging is
    never on the hot path)."""

    __slots__ = ("_initial",)

    def __init__(self, initial: dict[str, Any]) -> None:
        self._initial = initial

    def bind(self, **values: Any) -> _LazyLogger:
        return _LazyLogger({**self._initial, **values})

    def __getattr__(self, name: str) -> Any:
        return getattr(structlog.get_logger().bind(**self._initial), name)
