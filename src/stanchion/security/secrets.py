"""Secrets by reference: resolved once at start, held in :class:`Secret`, never shown.

Providers:

* ``file`` — a mounted file (Kubernetes secret volume). Plain text (trailing
  newline stripped) or, with ``key``, a JSON object's field. Refused when the
  file is writable by other users (anyone could swap the key).
* ``dev-env`` — an environment variable; development and tests only (the config
  rules refuse it in live mode).
* ``aws-secretsmanager`` — resolved by the AWS provider when it is configured;
  see :class:`SecretResolver` ``providers``.

Every resolved value is registered with :mod:`stanchion.core.redaction` so it
is scrubbed from logs and error text even if some code path leaks it.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from stanchion.core.errors import SecretError
from stanchion.core.redaction import REDACTED, register_secret


class Secret:
    """A secret value whose ``repr``/``str`` never show it. Use :meth:`reveal` at the point of use."""

    __slots__ = ("_source", "_value")

    def __init__(self, value: str, source: str) -> None:
        self._value = value
        self._source = source
        register_secret(value)

    def reveal(self) -> str:
        return self._value

    @property
    def source(self) -> str:
        """Where it came from (``file:/path#key``), safe to log."""
        return self._source

    def __repr__(self) -> str:
        return f"Secret({self._source}, {REDACTED})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._source))

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("secrets are not picklable")


@dataclass(frozen=True, slots=True)
class SecretSpec:
    """A reference as the config holds it: provider, ref, optional JSON key."""

    provider: str
    ref: str
    key: str | None = None

    def describe(self) -> str:
        return f"{self.provider}:{self.ref}" + (f"#{self.key}" if self.key else "")


ProviderFn = Callable[[SecretSpec], str]


def _select_key(raw: str, spec: SecretSpec) -> str:
    if spec.key is None:
        return raw.rstrip("\r\n")
    try:
        document = json.loads(raw)
    except json.JSONDecodeError:
        raise SecretError(f"{spec.describe()}: secret is not a JSON object, cannot select a key") from None
    if not isinstance(document, dict) or spec.key not in document:
        raise SecretError(f"{spec.describe()}: key not present in the secret")
    value = document[spec.key]
    if not isinstance(value, str) or not value:
        raise SecretError(f"{spec.describe()}: key does not hold a non-empty string")
    return value


def file_provider(spec: SecretSpec, *, base_dir: Path | None = None, strict_mode: bool = True) -> str:
    path = Path(spec.ref)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    try:
        info = path.stat()
        if strict_mode and info.st_mode & stat.S_IWOTH:
            mode = oct(info.st_mode & 0o777)
            raise SecretError(f"{spec.describe()}: file is writable by other users (mode {mode})")
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SecretError(f"{spec.describe()}: file not found") from None
    except PermissionError:
        raise SecretError(f"{spec.describe()}: permission denied") from None
    except UnicodeDecodeError:
        raise SecretError(f"{spec.describe()}: file is not UTF-8 text") from None
    except IsADirectoryError:
        raise SecretError(f"{spec.describe()}: is a directory") from None
    return _select_key(raw, spec)


def dev_env_provider(spec: SecretSpec, environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    if spec.ref not in env:
        raise SecretError(f"{spec.describe()}: environment variable is not set")
    return _select_key(env[spec.ref], spec)


class SecretResolver:
    """Resolves :class:`SecretSpec` references through named providers."""

    def __init__(self, providers: Mapping[str, ProviderFn] | None = None) -> None:
        self._providers: dict[str, ProviderFn] = {"file": file_provider, "dev-env": dev_env_provider}
        if providers:
            self._providers.update(providers)

    def resolve(self, spec: SecretSpec) -> Secret:
        provider = self._providers.get(spec.provider)
        if provider is None:
            raise SecretError(
                f"{spec.describe()}: provider {spec.provider!r} is not configured in this process"
            )
        try:
            value = provider(spec)
        except SecretError:
            raise
        except Exception as exc:  # noqa: BLE001 - translated at the boundary, value-free
            # Foreign errors may quote the secret; keep only the type.
            raise SecretError(f"{spec.describe()}: provider failed ({type(exc).__name__})") from None
        if not value:
            raise SecretError(f"{spec.describe()}: secret is empty")
        return Secret(value, spec.describe())
