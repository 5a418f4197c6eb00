"""Build of the compiled modules (decision 0003 §7, §8).

Everything else is in pyproject.toml. ``stanchion.book._native`` is the book's
side table and per-level loop; ``stanchion.venues.binance._wire`` scans the
depthUpdate frame's envelope; ``stanchion.venues.binance._sign`` signs (HMAC-SHA256)
and frames a WebSocket API request in one call (decision 0004);
``stanchion.venues.binance._reflex`` checks each raw depthUpdate frame against the
armed orders (decision 0004). The pure-Python paths stay as their reference and
run wherever the modules are absent. ``STANCHION_PURE_PYTHON=1`` builds without it
(for a machine without a C compiler); otherwise a failed compile fails the
install, loudly, rather than leaving a silently slower book.
"""

import os

from setuptools import Extension, setup

PURE_PYTHON = os.environ.get("STANCHION_PURE_PYTHON", "") == "1"

JSON_SCAN_H = "src/stanchion/venues/binance/_json_scan.h"  # shared by _wire.c and _reflex.c

FLAGS = ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]

extensions = (
    []
    if PURE_PYTHON
    else [
        Extension("stanchion.book._native", sources=["src/stanchion/book/_native.c"], extra_compile_args=FLAGS),
        Extension(
            "stanchion.venues.binance._wire",
            sources=["src/stanchion/venues/binance/_wire.c"],
            depends=[JSON_SCAN_H],
            extra_compile_args=FLAGS,
        ),
        Extension(
            "stanchion.venues.binance._sign",
            sources=["src/stanchion/venues/binance/_sign.c"],
            extra_compile_args=FLAGS,
        ),
        Extension(
            "stanchion.venues.binance._reflex",
            sources=["src/stanchion/venues/binance/_reflex.c"],
            depends=[JSON_SCAN_H],
            extra_compile_args=FLAGS,
        ),
    ]
)

setup(ext_modules=extensions)
