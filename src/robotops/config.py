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


class EvaluateSettings(BaseModel):
    """How ``robotops evaluate`` scores a model (``evaluate:``)."""

    model_config = ConfigDict(extra="forbid")

    split: str = Field("test", description="Split scored when none is named.")
    slices: list[str] | None = Field(
        None,
        description="Slice keys: 'site' and frame tag names. Default: site and every tag with "
        "at most max_slice_values values.",
    )
    max_slice_values: int = Field(20, ge=1, description="A tag with more values is no slice.")
    calibration_bins: int = Field(10, ge=2, le=100)


class Agreement(BaseModel):
    """A perturbation the model's predictions must survive: the share left unchanged."""

    model_config = ConfigDict(extra="forbid")

    min_agreement: float = Field(0.9, ge=0, le=1)
    magnitude: float = Field(
        0.0, ge=0, description="Brightness shift or noise std, pixel units in [0, 1]."
    )


class MinAccuracy(BaseModel):
    """A floor on accuracy."""

    model_config = ConfigDict(extra="forbid")

    min_accuracy: float = Field(0.5, ge=0, le=1)


class SliceFloor(BaseModel):
    """A floor on every slice's accuracy, for slices with enough frames to judge."""

    model_config = ConfigDict(extra="forbid")

    min_accuracy: float = Field(0.5, ge=0, le=1)
    min_frames: int = Field(8, ge=1)


class Latency(BaseModel):
    """A latency budget for one frame through the exported model."""

    model_config = ConfigDict(extra="forbid")

    budget_ms: float = Field(20.0, gt=0)


class BehaviourSettings(BaseModel):
    """Behavioural tests of a model (``behaviour:``); set one to null to turn it off."""

    model_config = ConfigDict(extra="forbid")

    flip: Agreement | None = Agreement(min_agreement=0.9)
    brightness: Agreement | None = Agreement(min_agreement=0.9, magnitude=0.1)
    noise: Agreement | None = Agreement(min_agreement=0.9, magnitude=0.03)
    drop_lidar: MinAccuracy | None = MinAccuracy(min_accuracy=0.5)
    drop_depth: MinAccuracy | None = MinAccuracy(min_accuracy=0.5)
    slice_accuracy: SliceFloor | None = SliceFloor()
    latency: Latency | None = Latency()


class GateSettings(BaseModel):
    """When a challenger may replace the champion (``gate:``)."""

    model_config = ConfigDict(extra="forbid")

    metric: Literal["accuracy", "macro_f1"] = "accuracy"
    tolerance: float = Field(
        0.01, ge=0, le=1, description="How far below the champion's metric still passes."
    )
    slice_tolerance: float = Field(
        0.05, ge=0, le=1, description="How far any slice's accuracy may fall below the champion's."
    )
    min_slice_frames: int = Field(8, ge=1, description="Smaller slices are not compared.")
    min_metric: float = Field(
        0.7, ge=0, le=1, description="Absolute floor on the metric when there is no champion."
    )


class RegistrySettings(BaseModel):
    """The MLflow registered model (``registry:``)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field("door-classifier", min_length=1, description="Registered model name.")


class ServeSettings(BaseModel):
    """How ``robotops serve`` listens and logs (``serve:``)."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="Address to listen on; 0.0.0.0 for every one.")
    port: int = Field(8000, ge=0, le=65535, description="Port; 0 picks a free one.")
    max_request_mb: float = Field(
        16.0, gt=0, description="Larger request bodies are refused with 413."
    )
    max_batch: int = Field(64, ge=1, description="Most frames in one inference request.")
    log: str = Field("predictions", description="Prediction log folder.")
    log_sample_rate: float = Field(
        0.05, ge=0, le=1, description="Share of inputs kept in the log besides low-confidence ones."
    )
    low_confidence: float = Field(
        0.6, ge=0, le=1, description="Predictions below this confidence always keep their input."
    )
    log_batch_rows: int = Field(512, ge=1, description="Rows per log part at most.")
    log_flush_seconds: float = Field(1.0, gt=0, description="Waiting rows are written this often.")


class MonitorSettings(BaseModel):
    """When ``robotops monitor`` raises a drift alert (``monitor:``).

    A feature alerts when its shift is both large (PSI at or above ``psi_alert``, or a KS
    statistic at or above ``ks_statistic``) and significant (p-value below ``ks_pvalue``); it
    warns when PSI reaches ``psi_warn`` without that. PSI alone is noisy on small samples (a few
    dozen rows give several tenths by chance), a test alone flags tiny shifts in large logs.
    """

    model_config = ConfigDict(extra="forbid")

    bins: int = Field(
        10,
        ge=2,
        le=100,
        description="PSI bins, at the reference's quantiles; fewer for small logs (about 20 "
        "logged rows per bin keep PSI's noise below psi_warn).",
    )
    psi_warn: float = Field(0.1, ge=0, description="PSI at or above this is a warning.")
    psi_alert: float = Field(
        0.25, ge=0, description="PSI at or above this is an alert, when significant (ks_pvalue)."
    )
    ks_pvalue: float = Field(
        0.01,
        gt=0,
        lt=1,
        description="Significance level: a shift alerts only when its test (two-sample KS for "
        "numbers, chi-square for the class mix) gives a p-value below this.",
    )
    ks_statistic: float = Field(
        0.2,
        ge=0,
        le=1,
        description="A significant KS statistic at or above this alerts even below psi_alert; "
        "smaller ones never alert (large logs make tiny differences significant).",
    )
    min_rows: int = Field(
        30, ge=1, description="Fewer logged frames (of the monitored bundle) give no verdict."
    )
    reference_split: str | None = Field(
        None,
        description="Split of the reference version to compare with (default: the split the "
        "bundle was checked on at export, if the reference has it, else every frame).",
    )
    max_reference_frames: int = Field(
        2000, ge=1, description="Reference frames scored at most (a seeded sample above)."
    )


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
    evaluate: EvaluateSettings = EvaluateSettings()
    behaviour: BehaviourSettings = BehaviourSettings()
    gate: GateSettings = GateSettings()
    registry: RegistrySettings = RegistrySettings()
    serve: ServeSettings = ServeSettings()
    monitor: MonitorSettings = MonitorSettings()


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
