"""transport layer (see ARCHITECTURE.md): WebSocket and HTTP clients, liveness, staleness,
reconnect/backoff, the shared rate limiter. Imports only ``stanchion.core`` (+ third party).

Venue adapters use:

* :class:`~stanchion.transport.websocket.WebSocketClient` with a
  :class:`~stanchion.transport.websocket.WebSocketConfig` (liveness policy, stream
  policies, backoff, rotation) and two callbacks (``on_connected`` -> subscribe frames,
  ``on_message`` -> stream key or None);
* :class:`~stanchion.transport.http.HttpClient` with the venue's
  :class:`~stanchion.transport.ratelimit.RateLimitPolicy` and signer, sharing one
  :class:`~stanchion.transport.ratelimit.RateLimiter` per IP.
"""
