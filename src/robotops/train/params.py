"""``params.yaml``: what a training run is made of, validated before anything runs.

A run is fully named by its dataset reference (pinned to a version or tag), model, preprocessing,
augmentation, hyperparameters and seed; the same file and dataset version give the same model.
The preprocessing and augmentation sections are passed to :class:`PreprocessSpec` and
:class:`AugmentConfig`, which check their own values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from robotops.config import first_error, read_section
from robotops.dataset.refs import DatasetRef
from robotops.errors import UsageError
from robotops.models import MODELS, ModelConfig
from robotops.transforms import AugmentConfig, PreprocessSpec

PARAMS_FILE = "params.yaml"


class EarlyStopping(BaseModel):
    """Stop when the validation loss has not fallen by ``min_delta`` for ``patience`` epochs.

    Loss, not accuracy, is watched: on an easy validation split accuracy reaches 1.0 early and
    then cannot show that the model is still getting surer of its answers.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    patience: int = Field(3, ge=1, description="Epochs without improvement before stopping.")
    min_delta: float = Field(0.0, ge=0, description="Least fall in loss that counts.")


class TrainParams(BaseModel):
    """The ``train:`` section of ``params.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = Field(description="Dataset reference, e.g. doors@7 or doors@release-2026-11.")
    model: str = Field("fusion", description=f"One of {', '.join(MODELS)}.")
    seed: int = Field(0, ge=0)
    epochs: int = Field(10, ge=1, le=1000)
    batch_size: int = Field(32, ge=1, le=4096)
    lr: float = Field(1e-3, gt=0, le=1)
    weight_decay: float = Field(0.0, ge=0)
    train_split: str = "train"
    val_split: str = "val"
    early_stopping: EarlyStopping = EarlyStopping()
    hyper: dict[str, Any] = Field(default_factory=dict, description="Model hyperparameters.")
    preprocess: dict[str, Any] = Field(default_factory=dict)
    augment: dict[str, Any] = Field(default_factory=dict)

    @field_validator("dataset")
    @classmethod
    def _dataset_ref(cls, value: str) -> str:
        try:
            ref = DatasetRef.parse(value)
        except UsageError as err:
            raise ValueError(str(err)) from err  # pydantic then names the key
        if ref.version is None and ref.tag is None:
            raise ValueError(
                f"{value!r} names no version: pin one ({value}@7 or {value}@TAG) so the run "
                "can be repeated"
            )
        return value

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        if value not in MODELS:
            raise ValueError(f"unknown model {value!r}; known models: {', '.join(MODELS)}")
        return value

    @field_validator("hyper")
    @classmethod
    def _model_hyper(cls, value: dict[str, Any]) -> dict[str, Any]:
        ModelConfig(**value)  # its ValidationError names the field
        return value

    def dataset_ref(self) -> DatasetRef:
        """The parsed dataset reference."""
        return DatasetRef.parse(self.dataset)

    def spec(self) -> PreprocessSpec:
        """The preprocessing spec these parameters ask for."""
        return PreprocessSpec.from_dict(self.preprocess)

    def augmentation(self) -> AugmentConfig:
        """The augmentation these parameters ask for."""
        return AugmentConfig.from_dict(self.augment)


def load_params(path: Path) -> TrainParams:
    """Read the ``train:`` section of a ``params.yaml``.

    Raises:
        UsageError: The file is missing, not YAML, or any value is invalid; the message names
            the file and the first offending key.
    """
    section = read_section(path, "parameters file", "train", "dataset, model, epochs, ...")
    try:
        params = TrainParams.model_validate(section)
        params.spec()
        params.augmentation()
    except ValidationError as err:
        raise UsageError(f"{path}: {first_error(err, 'train')}") from err
    except UsageError as err:
        raise UsageError(f"{path}: {err}") from err
    return params
