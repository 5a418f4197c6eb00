"""``ethtool -c`` / ``ethtool -g`` without the binary: the SIOCETHTOOL ioctl
(ETHTOOL_GCOALESCE, ETHTOOL_GRINGPARAM), read-only and unprivileged. The result
is rendered in ethtool's text format so live and captured data share one parser.

Used by :class:`HostFS` in live mode only, when the ``ethtool`` binary is absent.
"""

from __future__ import annotations

import ctypes
import fcntl
import socket
import struct
from typing import Final

__all__ = ["coalesce_text", "rings_text"]

SIOCETHTOOL: Final = 0x8946
ETHTOOL_GCOALESCE: Final = 0x0000000E
ETHTOOL_GRINGPARAM: Final = 0x00000010
_COALESCE_WORDS: Final = 23  # struct ethtool_coalesce: cmd + 22 u32
_RING_WORDS: Final = 9  # struct ethtool_ringparam: cmd + 8 u32
_IFNAMSIZ: Final = 16


def _query(iface: str, cmd: int, words: int) -> tuple[int, ...]:
    name = iface.encode()
    if not name or len(name) >= _IFNAMSIZ or b"/" in name:
        raise OSError(22, f"bad interface name {iface!r}")
    data = ctypes.create_string_buffer(struct.pack(f"={words}I", cmd, *([0] * (words - 1))), 4 * words)
    ifreq = bytearray(struct.pack(f"{_IFNAMSIZ}sP", name, ctypes.addressof(data)).ljust(40, b"\0"))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifreq)
    return struct.unpack(f"={words}I", data.raw)


def coalesce_text(iface: str) -> str:
    """``ethtool -c``-shaped text. Raises OSError (e.g. EOPNOTSUPP) like the ioctl."""
    v = _query(iface, ETHTOOL_GCOALESCE, _COALESCE_WORDS)
    adaptive_rx = "on" if v[10] else "off"
    adaptive_tx = "on" if v[11] else "off"
    return (
        f"Coalesce parameters for {iface}:\n"
        f"Adaptive RX: {adaptive_rx}  TX: {adaptive_tx}\n"
        f"stats-block-usecs: {v[9]}\n"
        f"sample-interval: {v[22]}\n"
        f"pkt-rate-low: {v[12]}\n"
        f"pkt-rate-high: {v[17]}\n\n"
        f"rx-usecs: {v[1]}\nrx-frames: {v[2]}\nrx-usecs-irq: {v[3]}\nrx-frames-irq: {v[4]}\n\n"
        f"tx-usecs: {v[5]}\ntx-frames: {v[6]}\ntx-usecs-irq: {v[7]}\ntx-frames-irq: {v[8]}\n"
        "(read with the SIOCETHTOOL ioctl; the ethtool binary is not installed)\n"
    )


def rings_text(iface: str) -> str:
    """``ethtool -g``-shaped text. Raises OSError like the ioctl."""
    v = _query(iface, ETHTOOL_GRINGPARAM, _RING_WORDS)
    return (
        f"Ring parameters for {iface}:\n"
        f"Pre-set maximums:\nRX:\t\t{v[1]}\nRX Mini:\t{v[2]}\nRX Jumbo:\t{v[3]}\nTX:\t\t{v[4]}\n"
        f"Current hardware settings:\nRX:\t\t{v[5]}\nRX Mini:\t{v[6]}\nRX Jumbo:\t{v[7]}\nTX:\t\t{v[8]}\n"
        "(read with the SIOCETHTOOL ioctl; the ethtool binary is not installed)\n"
    )
