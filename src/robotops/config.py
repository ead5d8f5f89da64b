"""``robotops.yaml``: the workspace configuration, validated with pydantic."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from robotops.errors import UsageError

CONFIG_FILE = "robotops.yaml"


class Topics(BaseModel):
    """Which topic carries which sensor; unset roles are detected by message type."""

    model_config = ConfigDict(extra="forbid")

    rgb: str | None = None
    depth: str | None = None
    camera_info: str | None = None
    lidar: str | None = None


class Sync(BaseModel):
    """Approximate-time synchronisation."""

    model_config = ConfigDict(extra="forbid")

    max_gap_ms: float = Field(60.0, gt=0, description="Largest stamp gap paired into one frame.")


class RuleSettings(BaseModel):
    """One check's settings in ``checks:``; unset fields keep the check's default."""

    model_config = ConfigDict(extra="forbid")

    severity: Literal["error", "warning", "off"] | None = None
    max_fraction: float | None = Field(None, ge=0, le=1)
    limit: float | None = Field(None, ge=0)


class Config(BaseModel):
    """The whole ``robotops.yaml``."""

    model_config = ConfigDict(extra="forbid")

    store: str = Field("datasets", description="Store root: a folder or s3://bucket/prefix.")
    dataset: str = "doors"
    classes: list[str] = ["glass_door", "wooden_door", "no_door"]
    base_frame: str = "base_link"
    topics: Topics = Topics()
    sync: Sync = Sync()
    checks: dict[str, RuleSettings] = Field(
        default_factory=dict, description="Validation check overrides by check id."
    )


def load_config(path: Path | None = None) -> Config:
    """Read ``path`` (or ``./robotops.yaml`` if present); defaults where the file is silent.

    Raises:
        UsageError: The file is not valid YAML or not a valid configuration.
    """
    if path is None:
        path = Path(CONFIG_FILE)
        if not path.exists():
            return Config()
    data = read_yaml(path, "configuration file")
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise UsageError(f"{path}: {first_error(err)}") from err


def read_yaml(path: Path, what: str) -> Any:
    """The YAML document in ``path`` (an empty file reads as ``{}``).

    Raises:
        UsageError: The file is missing or is not valid YAML; ``what`` names it in the message.
    """
    try:
        return yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as err:
        raise UsageError(f"{path}: no such {what}") from err
    except yaml.YAMLError as err:
        raise UsageError(f"{path}: not valid YAML ({err.__class__.__name__})") from err


def read_section(path: Path, what: str, section: str, hint: str) -> dict[str, Any]:
    """The ``section:`` mapping of the YAML file ``path``.

    Raises:
        UsageError: The file is missing, not YAML, or has no such mapping; ``hint`` says what
            the section should hold.
    """
    data = read_yaml(path, what)
    if not isinstance(data, dict) or not isinstance(data.get(section), dict):
        raise UsageError(f"{path}: needs a {section}: section ({hint})")
    return data[section]


def first_error(err: ValidationError, prefix: str = "") -> str:
    """A pydantic error as one line: the first offending key and what is wrong with it."""
    first = err.errors()[0]
    keys = [str(p) for p in first["loc"]]
    return f"{'.'.join([prefix, *keys] if prefix else keys)}: {first['msg']}"
