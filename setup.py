"""Build of the one compiled module, ``stanchion.book._native`` (decision 0003 §7).

Everything else is in pyproject.toml. The module is the per-level loop of the
book's depth-diff path; the pure-Python path stays as its reference and runs
wherever the module is absent. ``STANCHION_PURE_PYTHON=1`` builds without it
(for a machine without a C compiler); otherwise a failed compile fails the
install, loudly, rather than leaving a silently slower book.
"""

import os

from setuptools import Extension, setup

PURE_PYTHON = os.environ.get("STANCHION_PURE_PYTHON", "") == "1"

extensions = (
    []
    if PURE_PYTHON
    else [
        Extension(
            "stanchion.book._native",
            sources=["src/stanchion/book/_native.c"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
        )
    ]
)

setup(ext_modules=extensions)
