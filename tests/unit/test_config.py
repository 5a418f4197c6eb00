"""Config validation: the examples pass; every class of mistake fails with file and path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stanchion.cli.config_cmd import validate_files
from stanchion.config import ConfigFileError, StanchionConfig, load_config, parse_config
from tests.conftest import REPO_ROOT

EXAMPLES = sorted((REPO_ROOT / "examples").glob("*.yaml"))


def _paper() -> dict:
    return yaml.safe_load((REPO_ROOT / "examples" / "paper.yaml").read_text())


def _write(tmp_path: Path, data: object, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def _problems(tmp_path: Path, data: object) -> list[str]:
    path = _write(tmp_path, data)
    ok, bad = validate_files([path])
    assert not ok
    assert bad, "expected at least one problem"
    for line in bad:
        assert line.startswith(f"{path}: "), line
    return [line[len(str(path)) + 2 :] for line in bad]


def test_examples_are_valid() -> None:
    assert len(EXAMPLES) >= 2
    ok, bad = validate_files(EXAMPLES)
    assert bad == []
    assert len(ok) == len(EXAMPLES)


def test_unknown_key_is_rejected_with_its_path(tmp_path: Path) -> None:
    data = _paper()
    data["risk"]["max_oder_qty"] = 1  # typo
    assert _problems(tmp_path, data) == ["risk.max_oder_qty: unknown key (not part of the configuration schema)"]


def test_wrong_type(tmp_path: Path) -> None:
    data = _paper()
    data["risk"]["max_open_orders"] = "many"
    [line] = _problems(tmp_path, data)
    assert line.startswith("risk.max_open_orders: ")


@pytest.mark.parametrize("value", [0, -1, "0", "-0.5"])
def test_zero_or_negative_limit(tmp_path: Path, value: object) -> None:
    data = _paper()
    data["risk"]["instruments"]["binance:BTCUSDT"]["max_position"] = value
    [line] = _problems(tmp_path, data)
    assert line.startswith("risk.instruments.binance:BTCUSDT.max_position: ")
    assert "greater than zero" in line or "greater than 0" in line


def test_zero_integer_limit(tmp_path: Path) -> None:
    data = _paper()
    data["risk"]["max_open_orders"] = 0
    [line] = _problems(tmp_path, data)
    assert line.startswith("risk.max_open_orders: ")


def test_symbol_in_two_shards(tmp_path: Path) -> None:
    data = _paper()
    data["shards"] = [
        {"id": 0, "symbols": ["binance:BTCUSDT", "binance:ETHUSDT"]},
        {"id": 1, "symbols": ["binance:BTCUSDT"]},
    ]
    assert _problems(tmp_path, data) == [
        "shards.1.symbols.0: binance:BTCUSDT is already assigned to shard 0; a symbol belongs to one shard"
    ]


def test_inline_secret_is_rejected_without_echoing_it(tmp_path: Path) -> None:
    data = _paper()
    data["venues"]["binance"]["credentials"]["api_secret"] = "sEcReT-VaLuE-123"
    lines = _problems(tmp_path, data)
    assert lines == [
        "venues.binance.credentials.api_secret: inline secret values are not allowed; give a reference "
        "{provider: file | aws-secretsmanager | dev-env, ref: ...}"
    ]
    assert all("sEcReT" not in line for line in lines)


def test_unknown_secret_provider(tmp_path: Path) -> None:
    data = _paper()
    data["venues"]["binance"]["credentials"]["api_key"] = {"provider": "vault", "ref": "x"}
    [line] = _problems(tmp_path, data)
    assert line.startswith("venues.binance.credentials.api_key: unknown secret provider 'vault'")


def test_admin_off_loopback_without_auth(tmp_path: Path) -> None:
    data = _paper()
    data["admin"] = {"listen": "0.0.0.0:9465"}
    [line] = _problems(tmp_path, data)
    assert line.startswith("admin.auth: admin endpoint listens on non-loopback 0.0.0.0:9465")


def test_admin_off_loopback_with_auth_is_fine(tmp_path: Path) -> None:
    data = _paper()
    data["admin"] = {"listen": "0.0.0.0:9465", "auth": {"token": {"provider": "file", "ref": "t"}}}
    parse_config(data)


def test_empty_file(tmp_path: Path) -> None:
    assert _problems(tmp_path, "") == ["(root): empty file: expected a configuration mapping"]
    assert _problems(tmp_path, "# only a comment\n") == ["(root): empty file: expected a configuration mapping"]


def test_yaml_syntax_error_names_its_line(tmp_path: Path) -> None:
    text = "mode: paper\nvenues:\n  binance: {kind: binance\nshards: []\n"
    [line] = _problems(tmp_path, text)
    assert line == "line 4, column 7: YAML syntax error: expected ',' or '}', but got ':'"


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    [line] = _problems(tmp_path, "mode: paper\nmode: live\n")
    assert line.startswith("line 2, column 1: YAML syntax error: found duplicate key 'mode'")


def test_missing_file_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    _, bad = validate_files([missing])
    assert bad == [f"{missing}: (file): file does not exist"]


def test_cli_exit_codes_and_output(tmp_path: Path) -> None:
    good = REPO_ROOT / "examples" / "paper.yaml"
    bad = _write(tmp_path, "mode: [\n")
    missing = tmp_path / "missing.yaml"
    cmd = [sys.executable, "-m", "stanchion.cli.main", "config", "validate"]
    result = subprocess.run([*cmd, str(good)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    result = subprocess.run([*cmd, str(good), str(bad), str(missing)], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert any(line.startswith(f"{bad}: line ") for line in lines)
    assert f"{missing}: (file): file does not exist" in lines


def test_live_mode_refuses_env_secrets(tmp_path: Path) -> None:
    data = yaml.safe_load((REPO_ROOT / "examples" / "live.yaml").read_text())
    data["venues"]["binance"]["credentials"]["api_secret"] = {"provider": "dev-env", "ref": "BINANCE_SECRET"}
    [line] = _problems(tmp_path, data)
    assert line.startswith("venues.binance.credentials.api_secret.provider: dev-env secrets are not allowed in live mode")


def test_config_id_is_stable_across_formatting(tmp_path: Path) -> None:
    data = _paper()
    a = load_config(_write(tmp_path, data, "a.yaml"))
    # Same meaning, different key order and explicit defaults.
    reordered = dict(reversed(list(data.items())))
    reordered["logging"] = {"level": "info", "format": "json"}
    b = load_config(_write(tmp_path, reordered, "b.yaml"))
    assert a.config_id == b.config_id
    data["risk"]["max_open_orders"] = 49
    c = load_config(_write(tmp_path, data, "c2.yaml"))
    assert c.config_id != a.config_id


def test_config_is_frozen_and_exact() -> None:
    loaded = parse_config(_paper())
    with pytest.raises(Exception, match="frozen"):
        loaded.config.mode = "live"  # type: ignore[misc]
    limits = loaded.config.risk.instruments["binance:BTCUSDT"]
    assert str(limits.max_order_qty) == "0.5"


def test_float_literal_stays_exact(tmp_path: Path) -> None:
    data = _paper()
    data["risk"]["instruments"]["binance:BTCUSDT"]["max_order_qty"] = 0.1
    loaded = parse_config(data)
    assert str(loaded.config.risk.instruments["binance:BTCUSDT"].max_order_qty) == "0.1"


def test_schema_command_prints_json_schema() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stanchion.cli.main", "config", "schema"],
        capture_output=True, text=True, check=True,
    )
    import json

    schema = json.loads(result.stdout)
    assert schema["title"] == "StanchionConfig"
    assert "venues" in schema["properties"]
    assert schema["additionalProperties"] is False


def test_validate_configs_script(tmp_path: Path) -> None:
    script = REPO_ROOT / "scripts" / "validate_configs.py"
    ok = subprocess.run([sys.executable, str(script), *map(str, EXAMPLES)], capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    bad = _write(tmp_path, {"mode": "paper"})
    result = subprocess.run([sys.executable, str(script), str(bad)], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert f"{bad}: venues: required key is missing" in result.stderr


def test_model_round_trip() -> None:
    loaded = parse_config(_paper())
    again = StanchionConfig.model_validate(loaded.config.model_dump(mode="json"))
    assert again == loaded.config


def test_config_file_error_is_config_error() -> None:
    with pytest.raises(ConfigFileError) as info:
        parse_config(["not", "a", "mapping"])
    assert "expected a mapping at the top level, got list" in str(info.value)
