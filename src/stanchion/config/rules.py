"""Cross-field rules of a configuration, each problem with its exact path."""

from __future__ import annotations

from dataclasses import dataclass

from stanchion.config.model import Mode, SecretRef, StanchionConfig, is_loopback_address, split_address


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    message: str

    def render(self, source: str) -> str:
        return f"{source}: {self.path}: {self.message}"


def _secret_refs(config: StanchionConfig) -> list[tuple[str, SecretRef]]:
    refs: list[tuple[str, SecretRef]] = []
    for name, venue in config.venues.items():
        if venue.credentials is not None:
            refs.append((f"venues.{name}.credentials.api_key", venue.credentials.api_key))
            refs.append((f"venues.{name}.credentials.api_secret", venue.credentials.api_secret))
    if config.admin.auth is not None:
        refs.append(("admin.auth.token", config.admin.auth.token))
    return refs


def check(config: StanchionConfig) -> list[Problem]:
    """Every semantic problem of an already type-checked config."""
    known = {f"{name}:{symbol}" for name, venue in config.venues.items() for symbol in venue.symbols}
    problems: list[Problem] = []
    owner = _check_shards(config, known, problems)
    _check_risk(config, known, owner, problems)
    _check_strategies(config, owner, problems)
    _check_endpoints(config, problems)
    _check_mode(config, problems)
    return problems


def _check_shards(config: StanchionConfig, known: set[str], problems: list[Problem]) -> dict[str, int]:
    owner: dict[str, int] = {}
    seen_ids: set[int] = set()
    for i, shard in enumerate(config.shards):
        if shard.id in seen_ids:
            problems.append(Problem(f"shards.{i}.id", f"shard id {shard.id} is used twice"))
        seen_ids.add(shard.id)
        for j, key in enumerate(shard.symbols):
            path = f"shards.{i}.symbols.{j}"
            if key not in known:
                listed = ", ".join(sorted(known))
                problems.append(Problem(path, f"{key!r} is not a configured venue:SYMBOL (known: {listed})"))
            elif key in owner:
                problems.append(
                    Problem(
                        path,
                        f"{key} is already assigned to shard {owner[key]}; a symbol belongs to one shard",
                    )
                )
            else:
                owner[key] = shard.id
    return owner


def _check_risk(
    config: StanchionConfig, known: set[str], owner: dict[str, int], problems: list[Problem]
) -> None:
    for key in config.risk.instruments:
        if key not in known:
            problems.append(Problem(f"risk.instruments.{key}", f"{key!r} is not a configured venue:SYMBOL"))
    if config.risk.enabled:
        for key in sorted(owner):
            if key not in config.risk.instruments:
                problems.append(Problem("risk.instruments", f"no risk limits for traded instrument {key}"))


def _check_strategies(config: StanchionConfig, owner: dict[str, int], problems: list[Problem]) -> None:
    for i, strategy in enumerate(config.strategies):
        for j, key in enumerate(strategy.params.instruments):
            if key not in owner:
                problems.append(
                    Problem(f"strategies.{i}.params.instruments.{j}", f"{key!r} is not assigned to any shard")
                )
    names = [s.name for s in config.strategies]
    for i, name in enumerate(names):
        if names.index(name) != i:
            problems.append(Problem(f"strategies.{i}.name", f"strategy name {name!r} is used twice"))


def _check_endpoints(config: StanchionConfig, problems: list[Problem]) -> None:
    if not is_loopback_address(config.admin.listen) and config.admin.auth is None:
        problems.append(
            Problem(
                "admin.auth",
                f"admin endpoint listens on non-loopback {config.admin.listen} without authentication; "
                "configure admin.auth.token or bind to 127.0.0.1",
            )
        )
    if config.admin.listen == config.metrics.listen and split_address(config.admin.listen)[1] != 0:
        problems.append(Problem("admin.listen", "admin and metrics endpoints cannot share an address"))


def _check_mode(config: StanchionConfig, problems: list[Problem]) -> None:
    if config.mode in (Mode.PAPER, Mode.LIVE):
        for name, venue in config.venues.items():
            if venue.endpoints is None:
                problems.append(Problem(f"venues.{name}.endpoints", f"required in {config.mode.value} mode"))
    if config.mode is Mode.LIVE:
        for name, venue in config.venues.items():
            if venue.credentials is None:
                problems.append(Problem(f"venues.{name}.credentials", "required in live mode"))
        for path, ref in _secret_refs(config):
            if ref.provider == "dev-env":
                problems.append(
                    Problem(
                        f"{path}.provider",
                        "dev-env secrets are not allowed in live mode; use file or aws-secretsmanager",
                    )
                )
