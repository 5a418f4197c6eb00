"""Clock offset to the venue, estimated from server-time samples (pure).

Each sample is ``(local send, server time, local receive)`` in ms. The offset
of one sample is ``server - (send + receive) / 2``; its error is at most half
the round trip. The estimate is the offset of the sample with the smallest
round trip among the last few, so one slow answer (an outlier) never moves it.
-1021 ("timestamp outside recvWindow") asks for fresh samples, not retries.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TimeSample:
    sent_ms: int
    server_ms: int
    received_ms: int

    @property
    def rtt_ms(self) -> int:
        return self.received_ms - self.sent_ms

    @property
    def offset_ms(self) -> float:
        return self.server_ms - (self.sent_ms + self.received_ms) / 2


class ClockOffset:
    """``server_time ≈ local_time + offset_ms``."""

    __slots__ = ("_offset_ms", "_samples")

    def __init__(self, keep: int = 8) -> None:
        self._samples: deque[TimeSample] = deque(maxlen=keep)
        self._offset_ms = 0  # computed when a sample comes or goes, not per signed request

    def add(self, sample: TimeSample) -> None:
        if sample.rtt_ms < 0:
            raise ValueError("a time sample cannot be received before it was sent")
        self._samples.append(sample)
        self._offset_ms = round(min(self._samples, key=lambda s: s.rtt_ms).offset_ms)

    def clear(self) -> None:
        self._samples.clear()
        self._offset_ms = 0

    @property
    def samples(self) -> int:
        return len(self._samples)

    @property
    def offset_ms(self) -> int:
        """The offset of the sample with the smallest round trip (0 with no samples)."""
        return self._offset_ms

    @property
    def uncertainty_ms(self) -> float | None:
        """Half the best round trip: the estimate is within this of the truth."""
        if not self._samples:
            return None
        return min(s.rtt_ms for s in self._samples) / 2

    def server_time_ms(self, local_ms: int) -> int:
        return local_ms + self._offset_ms
