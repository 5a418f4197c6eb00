"""The layering of ARCHITECTURE.md, checked on every module's imports.

Each module belongs to a layer (its first package under ``stanchion``, or a
finer rule for ``venues``); a layer may import only the layers listed for it.
Imports inside ``if TYPE_CHECKING:`` blocks count too: types shape coupling.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO_ROOT

SRC = REPO_ROOT / "src" / "stanchion"

# layer -> layers it may import (itself always allowed)
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "model": {"core"},
    "book": {"core", "model"},
    "venues.pure": {"core", "model", "book"},
    "venues.ports": {"core", "model"},
    "venues.adapter": {"core", "model", "book", "venues.pure", "venues.ports", "transport"},
    "transport": {"core"},
    "engine": {"core", "model", "book", "venues.ports"},
    "bus": {"core", "model"},
    "persistence": {"core", "model"},
    "observability": {"core"},
    "security": {"core"},
    "sim": {"core", "model", "book", "venues.pure"},
    "ops": {"core"},
    "backtest": {"core", "model", "book", "venues.pure", "venues.ports", "engine", "persistence"},
    "config": {"core"},
    "root": {"*"},  # app.py, cli/: the composition root
}

PURE_LAYERS = {"core", "model", "book", "venues.pure", "venues.ports", "engine"}
FORBIDDEN_IN_PURE = {"asyncio", "socket", "aiohttp", "websockets", "sqlite3", "urllib.request", "http.client"}


def layer_of(module: str) -> str:
    parts = module.split(".")
    assert parts[0] == "stanchion", module
    if len(parts) == 1 or parts[1] in {"app", "cli", "__main__"}:
        return "root"
    head = parts[1]
    if head == "venues":
        if len(parts) == 2:
            return "venues.ports"
        if parts[2] == "ports":
            return "venues.ports"
        if parts[-1] == "adapter" or (len(parts) > 3 and parts[3] == "adapter"):
            return "venues.adapter"
        return "venues.pure"
    return head


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            for alias in node.names:
                found.append((node.lineno, f"{target}.{alias.name}"))
    return found


def test_every_module_respects_its_layer() -> None:
    violations: list[str] = []
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 10
    for path in files:
        module = module_name(path)
        layer = layer_of(module)
        allowed = ALLOWED[layer]
        for lineno, target in imports_of(path):
            top = target.split(".")[0]
            if layer in PURE_LAYERS and (target in FORBIDDEN_IN_PURE or top in FORBIDDEN_IN_PURE):
                violations.append(f"{path.relative_to(REPO_ROOT)}:{lineno}: pure layer {layer} imports {target}")
            if top != "stanchion" or "*" in allowed:
                continue
            if target == "stanchion" or layer_of_target(target) is None:
                continue
            target_layer = layer_of_target(target)
            if target_layer != layer and target_layer not in allowed:
                violations.append(
                    f"{path.relative_to(REPO_ROOT)}:{lineno}: {layer} may not import {target} ({target_layer})"
                )
    assert violations == []


def layer_of_target(target: str) -> str | None:
    parts = target.split(".")
    if len(parts) < 2:
        return None
    # "from stanchion.venues import binance" style: resolve to the deepest existing module
    for cut in range(len(parts), 1, -1):
        candidate = ".".join(parts[:cut])
        rel = Path(*candidate.split(".")[1:])
        if (SRC / rel).with_suffix(".py").exists() or (SRC / rel / "__init__.py").exists():
            return layer_of(candidate)
    return layer_of(".".join(parts[:2]))


def test_the_checker_catches_a_violation(tmp_path: Path) -> None:
    # The rule itself must be able to fail: a core module importing the engine is refused.
    assert layer_of("stanchion.core.fixedpoint") == "core"
    assert "engine" not in ALLOWED["core"]
    assert layer_of("stanchion.venues.binance.adapter") == "venues.adapter"
    assert layer_of("stanchion.venues.binance.codec") == "venues.pure"
    assert "transport" not in ALLOWED["venues.pure"]
    assert layer_of("stanchion.cli.main") == "root"
    assert layer_of_target("stanchion.core.fixedpoint.parse_fixed") == "core"
