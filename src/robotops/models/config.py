"""What every model agrees on: the input contract, the modalities and the hyperparameters."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

# The ONNX graph's input and output names, in ``forward`` order. Every architecture takes all
# four inputs, so one signature (and one runtime) serves them all.
INPUT_NAMES: tuple[str, ...] = ("rgb", "depth", "lidar", "present")
OUTPUT_NAMES: tuple[str, ...] = ("logits",)


class Modality(StrEnum):
    """A sensor input; its position here is its column in the ``present`` tensor."""

    RGB = "rgb"
    DEPTH = "depth"
    LIDAR = "lidar"


class ModelConfig(BaseModel):
    """Hyperparameters shared by every architecture; each uses the fields it needs.

    The defaults keep every model well under one million parameters and fast on a CPU.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    width: int = Field(16, ge=4, le=64, description="Channels of the first CNN layer.")
    point_width: int = Field(32, ge=4, le=128, description="Channels of the first PointNet layer.")
    hidden: int = Field(64, ge=8, le=512, description="Hidden units of the classifier head.")
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="Dropout before the last layer.")
