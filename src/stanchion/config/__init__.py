"""Configuration: one frozen, typed root model loaded from YAML; unknown keys are errors."""

from stanchion.config.loader import (
    ConfigFileError,
    LoadedConfig,
    config_id,
    json_schema,
    load_config,
    parse_config,
)
from stanchion.config.model import StanchionConfig
from stanchion.config.rules import Problem

__all__ = [
    "ConfigFileError",
    "LoadedConfig",
    "Problem",
    "StanchionConfig",
    "config_id",
    "json_schema",
    "load_config",
    "parse_config",
]
