"""Binance error replies: ``{"code": ..., "msg": ...}`` with the HTTP status Binance uses.

Messages are the ones listed in binance-spot-api-docs errors.md.
"""

from __future__ import annotations


class BinanceApiError(Exception):
    """A request the simulated venue refuses; becomes the error JSON and an HTTP status."""

    def __init__(
        self, code: int, msg: str, status: int = 400, retry_after: int | None = None, retry_at_ms: int | None = None,
        data: dict[str, object] | None = None,
    ) -> None:
        """``retry_after``: seconds, REST's ``Retry-After`` header; ``retry_at_ms``: when the client
        may retry (epoch ms), the WebSocket API's ``error.data.retryAfter`` (a timestamp, not a delay);
        ``data``: the error's ``data`` object (cancel-replace: what each half did)."""
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status
        self.retry_after = retry_after
        self.retry_at_ms = retry_at_ms
        self.data = data

    def body(self) -> dict[str, object]:
        if self.data is not None:
            return {"code": self.code, "msg": self.msg, "data": self.data}
        return {"code": self.code, "msg": self.msg}


def banned(until_ms: int, now_ms: int) -> BinanceApiError:
    """418 -1003: the IP is banned until ``until_ms`` (errors.md; web-socket-api.md "IP limits")."""
    return BinanceApiError(
        -1003,
        f"Way too much request weight used; IP banned until {until_ms}. "
        "Please use WebSocket Streams for live updates to avoid bans.",
        status=418,
        retry_after=-(-(until_ms - now_ms) // 1000),
        retry_at_ms=until_ms,
    )


def mandatory(name: str) -> BinanceApiError:
    return BinanceApiError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def illegal(name: str, legal: str) -> BinanceApiError:
    return BinanceApiError(-1100, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'.")


def duplicate_param() -> BinanceApiError:
    return BinanceApiError(-1101, "Duplicate values for a parameter detected.")


def too_much_precision(name: str) -> BinanceApiError:
    return BinanceApiError(-1111, f"Parameter '{name}' has too much precision.")


def bad_symbol() -> BinanceApiError:
    return BinanceApiError(-1121, "Invalid symbol.")


def invalid_value(name: str) -> BinanceApiError:
    return BinanceApiError(-1130, f"Data sent for parameter '{name}' is not valid.")


def unknown_error() -> BinanceApiError:
    return BinanceApiError(-1000, "An unknown error occurred while processing the request.", status=500)


def invalid_signature() -> BinanceApiError:
    return BinanceApiError(-1022, "Signature for this request is not valid.")


def bad_key_format() -> BinanceApiError:
    return BinanceApiError(-2014, "API-key format invalid.", status=401)


def rejected_key() -> BinanceApiError:
    return BinanceApiError(-2015, "Invalid API-key, IP, or permissions for action.", status=401)


def outside_recv_window() -> BinanceApiError:
    return BinanceApiError(-1021, "Timestamp for this request is outside of the recvWindow.")


def ahead_of_server() -> BinanceApiError:
    return BinanceApiError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")


def cancel_replace_failed(data: dict[str, object]) -> BinanceApiError:
    """400 -2022: the cancel failed and the new order failed or was not attempted (errors.md)."""
    return BinanceApiError(-2022, "Order cancel-replace failed.", data=data)


def cancel_replace_partially_failed(data: dict[str, object]) -> BinanceApiError:
    """409 -2021: one half of a cancel-replace succeeded, the other failed (errors.md)."""
    return BinanceApiError(-2021, "Order cancel-replace partially failed.", status=409, data=data)


def timeout_unknown() -> BinanceApiError:
    return BinanceApiError(
        -1007, "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
        status=503,
    )


class HoldReply(Exception):
    """Raised after an order was accepted when its reply must be withheld (``timeout_after_accept``)."""

    def __init__(self, hold_s: float) -> None:
        super().__init__(f"reply withheld for {hold_s}s")
        self.hold_s = hold_s
