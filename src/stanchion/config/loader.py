"""Load, validate and identify configuration files.

``load_config(path)`` returns a :class:`LoadedConfig` or raises
:class:`ConfigFileError` carrying one :class:`Problem` per thing that is wrong,
each naming a dotted path (``risk.instruments.binance:BTCUSDT.max_position``)
or, for YAML syntax errors, the line and column.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from stanchion.config.model import StanchionConfig
from stanchion.config.rules import Problem, check
from stanchion.core.errors import ConfigError

MAX_CONFIG_BYTES = 1_000_000


class ConfigFileError(ConfigError):
    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(p.render(source) for p in problems))


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    config: StanchionConfig
    config_id: str
    source: str


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys (a silent override is a classic outage)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        seen[key] = key_node
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _dotted(loc: tuple[int | str, ...]) -> str:
    # pydantic adds the tag of a discriminated union member ("market_maker") and
    # the type of an Annotated member; keep the user's own keys only.
    return ".".join(str(part) for part in loc) or "(root)"


_STRATEGY_KINDS = frozenset({"market_maker", "twap", "armed_taker"})


def _validation_problems(error: ValidationError) -> list[Problem]:
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        loc = tuple(
            part
            for part in item["loc"]
            if not (isinstance(part, str) and part in _STRATEGY_KINDS and item["loc"][-1] != part)
        )
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key (not part of the configuration schema)"
        elif item["type"] == "missing":
            message = "required key is missing"
        problems.append(Problem(_dotted(loc), message))
    return problems


def parse_config(data: object, source: str = "<memory>") -> LoadedConfig:
    """Validate an already-parsed document."""
    if data is None:
        raise ConfigFileError(source, [Problem("(root)", "empty file: expected a configuration mapping")])
    if not isinstance(data, dict):
        raise ConfigFileError(
            source, [Problem("(root)", f"expected a mapping at the top level, got {type(data).__name__}")]
        )
    try:
        config = StanchionConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigFileError(source, _validation_problems(exc)) from None
    problems = check(config)
    if problems:
        raise ConfigFileError(source, problems)
    return LoadedConfig(config=config, config_id=config_id(config), source=source)


def load_config(path: str | Path) -> LoadedConfig:
    source = str(path)
    file = Path(path)
    try:
        size = file.stat().st_size
        if not file.is_file():
            raise ConfigFileError(source, [Problem("(file)", "not a regular file")])
        if size > MAX_CONFIG_BYTES:
            too_big = Problem("(file)", f"file is larger than {MAX_CONFIG_BYTES} bytes")
            raise ConfigFileError(source, [too_big])
        raw = file.read_bytes()
    except FileNotFoundError:
        raise ConfigFileError(source, [Problem("(file)", "file does not exist")]) from None
    except PermissionError:
        raise ConfigFileError(source, [Problem("(file)", "permission denied")]) from None
    except IsADirectoryError:
        raise ConfigFileError(source, [Problem("(file)", "is a directory, not a file")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigFileError(source, [Problem("(file)", f"not UTF-8 text (byte {exc.start})")]) from None
    if not text.strip():
        raise ConfigFileError(source, [Problem("(root)", "empty file: expected a configuration mapping")])
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(yaml)"
        what = exc.problem or exc.context or "syntax error"
        raise ConfigFileError(source, [Problem(where, f"YAML syntax error: {what}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigFileError(source, [Problem("(yaml)", f"YAML error: {exc}")]) from None
    return parse_config(data, source)


def config_id(config: StanchionConfig) -> str:
    """A stable id of the validated config: the same meaning gives the same id.

    Computed over the canonical JSON of the *validated* model (defaults filled,
    keys sorted), so formatting, key order and comments do not change it.
    """
    canonical = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return "cfg-" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


def json_schema() -> dict[str, Any]:
    return StanchionConfig.model_json_schema()
