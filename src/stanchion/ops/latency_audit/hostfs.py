"""The single I/O seam of the audit: every file, listing, command and
environment variable is read through :class:`HostFS`, under a root directory.

Reads never raise for host conditions; they return the value or an
:class:`Unread` outcome (``missing``, ``denied``, ``error``). With a root other
than ``/`` the fixture manifest ``<root>/.latency-audit/`` is honoured:

* ``unreadable`` — one absolute path or glob per line (``*``, ``?``, ``**``);
  reads and listings of a matching path, or of anything below it, return
  ``denied`` (deterministic even when the tests run as root);
* ``env`` — ``KEY=VALUE`` lines, the audited process's environment;
* ``commands/<name>.txt`` — captured command output (``ethtool-c-eth0.txt``).

In fixture mode no command is ever executed. Symlinks inside the root are
resolved as if the root were ``/`` (like ``chroot``), so nothing outside the
root is ever opened.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import re
import shutil
import stat
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

__all__ = ["DENIED", "MISSING", "HostFS", "Unread", "error"]

MANIFEST_DIR: Final = ".latency-audit"
MAX_TEXT_BYTES: Final = 4 * 1024 * 1024
COMMAND_TIMEOUT_S: Final = 2.0
_MAX_SYMLINKS: Final = 40


@dataclass(frozen=True, slots=True)
class Unread:
    """Why a value could not be read."""

    kind: Literal["missing", "denied", "error"]
    detail: str = ""

    def render(self) -> str:
        """The form used in a report's ``inputs``: ``<missing>``, ``<denied>``, ``<error: …>``."""
        if self.kind == "error":
            return f"<error: {self.detail}>"
        return f"<{self.kind}>"

    def describe(self) -> str:
        if self.kind == "missing":
            return "missing"
        if self.kind == "denied":
            return "permission denied"
        return self.detail or "read error"


MISSING: Final = Unread("missing")
DENIED: Final = Unread("denied")


def error(detail: str) -> Unread:
    return Unread("error", detail)


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """``**`` crosses directories, ``*``/``?`` stay inside one component; a
    trailing ``/**`` also matches the directory itself."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("(?:/.*)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _normalise(path: str) -> str:
    """An absolute, ``..``-free kernel path (``..`` clamps at ``/``)."""
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


def _unread_from_oserror(exc: OSError) -> Unread:
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return MISSING
    if exc.errno in (errno.EACCES, errno.EPERM):
        return DENIED
    return error(f"{type(exc).__name__}: {exc.strerror or exc}")


class HostFS:
    """Reads kernel paths (``/proc/...``) under ``root``."""

    def __init__(self, root: str | os.PathLike[str], *, use_manifest: bool | None = None,
                 allow_exec: bool = True, environ: Mapping[str, str] | None = None) -> None:
        self._root = Path(root)
        self.live = self._root.resolve() == Path("/")
        manifest = (not self.live) if use_manifest is None else use_manifest
        self._manifest = self._root / MANIFEST_DIR if manifest else None
        self._denied = self._load_denials()
        self._allow_exec = allow_exec and self._manifest is None
        self._environ = environ

    @property
    def root(self) -> Path:
        return self._root

    @property
    def fixture_mode(self) -> bool:
        return self._manifest is not None

    # ---- manifest -------------------------------------------------------------------------------

    def _load_denials(self) -> list[re.Pattern[str]]:
        if self._manifest is None:
            return []
        try:
            text = (self._manifest / "unreadable").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
        patterns = []
        for raw in text.splitlines():
            line = raw.strip()
            if line and not line.startswith("#"):
                patterns.append(_glob_regex(_normalise(line) if "*" not in line else line))
        return patterns

    def _is_denied(self, path: str) -> bool:
        if not self._denied:
            return False
        # a denied directory also denies everything below it (no search permission)
        probe = path
        while True:
            if any(p.match(probe) for p in self._denied):
                return True
            if probe == "/":
                return False
            probe = probe.rsplit("/", 1)[0] or "/"

    def environ(self) -> dict[str, str]:
        """The audited process's environment."""
        if self._manifest is None:
            return dict(os.environ if self._environ is None else self._environ)
        try:
            text = (self._manifest / "env").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return {}
        env: dict[str, str] = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip():
                env[key.strip()] = value.strip()
        return env

    # ---- path mapping ---------------------------------------------------------------------------

    def _host_path(self, path: str) -> str | Unread:
        """Map a kernel path to a path on this machine, resolving symlinks inside the root;
        ``denied`` when the resolved path is listed in the manifest."""
        host = self._resolve(path)
        if isinstance(host, str) and self._denied:
            rel = os.path.relpath(host, self._root)
            if self._is_denied(_normalise(rel if rel != "." else "/")):
                return DENIED
        return host

    def _resolve(self, path: str) -> str | Unread:
        path = _normalise(path)
        if self.live:
            return path
        root = str(self._root)
        resolved: list[str] = []
        pending = [p for p in path.split("/") if p]
        hops = 0
        while pending:
            part = pending.pop(0)
            if part == ".":
                continue
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            candidate = os.path.join(root, *resolved, part)
            try:
                st = os.lstat(candidate)
            except OSError as exc:
                if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                    # the rest cannot exist either
                    return os.path.join(root, *resolved, part, *pending)
                return _unread_from_oserror(exc)
            if stat.S_ISLNK(st.st_mode):
                hops += 1
                if hops > _MAX_SYMLINKS:
                    return error("too many levels of symbolic links")
                target = os.readlink(candidate)
                if target.startswith("/"):
                    resolved = []
                pending = [p for p in target.split("/") if p] + pending
                continue
            resolved.append(part)
        return os.path.join(root, *resolved)

    # ---- reads ----------------------------------------------------------------------------------

    def read_bytes(self, path: str, limit: int = MAX_TEXT_BYTES) -> bytes | Unread:
        path = _normalise(path)
        if self._is_denied(path):
            return DENIED
        host = self._host_path(path)
        if isinstance(host, Unread):
            return host
        try:
            fd = os.open(host, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            return _unread_from_oserror(exc)
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                return error("is a directory")
            if stat.S_ISFIFO(st.st_mode) or stat.S_ISSOCK(st.st_mode):
                return error("not a regular file")
            chunks: list[bytes] = []
            remaining = limit
            while remaining > 0:
                chunk = os.read(fd, min(remaining, 65536))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
            return b"".join(chunks)
        except BlockingIOError:
            return error("read would block")
        except OSError as exc:
            return _unread_from_oserror(exc)
        finally:
            os.close(fd)

    def read_text(self, path: str) -> str | Unread:
        data = self.read_bytes(path)
        if isinstance(data, Unread):
            return data
        return data.decode("utf-8", errors="replace")

    def listdir(self, path: str) -> list[str] | Unread:
        path = _normalise(path)
        if self._is_denied(path):
            return DENIED
        host = self._host_path(path)
        if isinstance(host, Unread):
            return host
        try:
            names = os.listdir(host)
        except OSError as exc:
            return _unread_from_oserror(exc)
        return sorted(n for n in names if not (path == "/" and n == MANIFEST_DIR and self.fixture_mode))

    def exists(self, path: str) -> bool | Unread:
        """True/False, or ``denied`` when the path lies in a denied directory. A path
        listed in the manifest itself exists (like a file with mode 000)."""
        path = _normalise(path)
        parent = path.rsplit("/", 1)[0] or "/"
        if path != "/" and self._is_denied(parent):
            return DENIED
        if self._is_denied(path):
            return True
        host = self._host_path(path)
        if isinstance(host, Unread):
            return host
        try:
            os.stat(host)
        except OSError as exc:
            outcome = _unread_from_oserror(exc)
            return False if outcome.kind == "missing" else outcome
        return True

    def is_dir(self, path: str) -> bool | Unread:
        path = _normalise(path)
        found = self.exists(path)
        if found is not True:
            return found
        host = self._host_path(path)
        if isinstance(host, Unread):
            return host
        return os.path.isdir(host)

    def glob(self, pattern: str) -> list[str] | Unread:
        """Expand ``*``/``?``/``[]`` per path component (no ``**``)."""
        results = ["/"]
        for part in [p for p in _normalise(pattern).split("/") if p]:
            nxt: list[str] = []
            for base in results:
                prefix = base.rstrip("/")
                if any(c in part for c in "*?["):
                    names = self.listdir(base)
                    if isinstance(names, Unread):
                        if names.kind == "missing":
                            continue
                        return names
                    nxt.extend(f"{prefix}/{n}" for n in names if fnmatch.fnmatchcase(n, part))
                else:
                    nxt.append(f"{prefix}/{part}")
            results = nxt
        out: list[str] = []
        for candidate in results:
            found = self.exists(candidate)
            if isinstance(found, Unread):
                return found
            if found:
                out.append(candidate)
        return sorted(out)

    # ---- commands -------------------------------------------------------------------------------

    def run_command(self, name: str, argv: list[str]) -> str | Unread:
        """Captured output ``commands/<name>.txt`` in fixture mode; otherwise run ``argv``
        (``LC_ALL=C``, 2 s timeout) unless execution is disabled."""
        if self._manifest is not None:
            try:
                data = (self._manifest / "commands" / f"{name}.txt").read_bytes()
            except FileNotFoundError:
                return error(f"no captured output {MANIFEST_DIR}/commands/{name}.txt")
            except OSError as exc:
                return _unread_from_oserror(exc)
            return data.decode("utf-8", errors="replace")
        if not self._allow_exec:
            return error("command execution disabled (--no-exec)")
        exe = shutil.which(argv[0]) or next(
            (p for p in (f"/usr/sbin/{argv[0]}", f"/sbin/{argv[0]}") if os.access(p, os.X_OK)), None
        )
        if exe is None:
            return self._ethtool_ioctl(argv) if argv[0] == "ethtool" else error(f"{argv[0]} not installed")
        env = {"LC_ALL": "C", "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
        try:
            done = subprocess.run(  # noqa: S603 - fixed argv, no shell
                [exe, *argv[1:]], capture_output=True, timeout=COMMAND_TIMEOUT_S, env=env, check=False
            )
        except subprocess.TimeoutExpired:
            return error(f"{argv[0]} timed out after {COMMAND_TIMEOUT_S:g} s")
        except OSError as exc:
            return error(f"{argv[0]}: {exc.strerror or exc}")
        if done.returncode != 0:
            msg = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
            return error(f"{' '.join(argv)} exited {done.returncode}: {msg[-1] if msg else 'no output'}")
        return done.stdout.decode("utf-8", errors="replace")

    @staticmethod
    def _ethtool_ioctl(argv: list[str]) -> str | Unread:
        """``ethtool -c|-g IF`` through the SIOCETHTOOL ioctl when the binary is absent."""
        from stanchion.ops.latency_audit import ethtool_ioctl

        queries = {"-c": ethtool_ioctl.coalesce_text, "-g": ethtool_ioctl.rings_text}
        if len(argv) != 3 or argv[1] not in queries:
            return error("ethtool not installed")
        try:
            return queries[argv[1]](argv[2])
        except OSError as exc:
            return error(f"ethtool not installed; SIOCETHTOOL {argv[1]} {argv[2]}: {exc.strerror or exc}")
