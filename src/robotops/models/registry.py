"""Models chosen by name, and the example inputs that trace and test them."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import ValidationError

from robotops.errors import UsageError
from robotops.models.config import Modality, ModelConfig
from robotops.models.nets import CameraNet, DoorClassifier, FusionNet, LidarNet, RGBDNet

MODELS: dict[str, type[DoorClassifier]] = {
    cls.name: cls for cls in (CameraNet, RGBDNet, LidarNet, FusionNet)
}


def build_model(name: str, num_classes: int, **hyper: Any) -> DoorClassifier:
    """A freshly initialised model; seed with ``torch.manual_seed`` first for a repeatable one.

    Args:
        name: One of :data:`MODELS` (``camera``, ``rgbd``, ``lidar``, ``fusion``).
        num_classes: K, the number of classes in the dataset's class list (at least 2).
        **hyper: :class:`ModelConfig` fields (``width``, ``point_width``, ``hidden``,
            ``dropout``); unset ones keep their defaults.

    Raises:
        UsageError: Unknown name, fewer than two classes, or an invalid hyperparameter.
    """
    try:
        cls = MODELS[name]
    except KeyError:
        known = ", ".join(MODELS)
        raise UsageError(f"unknown model {name!r}; known models: {known}") from None
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise UsageError(f"num_classes must be an integer of at least 2, got {num_classes!r}")
    try:
        config = ModelConfig(**hyper)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UsageError(f"model hyperparameter {where}: {first['msg']}") from err
    return cls(num_classes, config)


def count_parameters(model: torch.nn.Module) -> int:
    """The number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def example_inputs(
    batch: int = 2,
    height: int = 64,
    width: int = 64,
    points: int = 512,
    *,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random inputs of the right shapes and ranges, every modality present.

    For tracing (ONNX export) and tests, not for training: the values carry no signal.

    Returns:
        ``(rgb, depth, lidar, present)``: B x 3 x H x W, B x 2 x H x W, B x P x 3, B x 3.
    """
    rgb = torch.randn(batch, 3, height, width, generator=generator)
    depth_norm = torch.rand(batch, 1, height, width, generator=generator)
    valid = (torch.rand(batch, 1, height, width, generator=generator) > 0.1).float()
    depth = torch.cat([depth_norm * valid, valid], dim=1)  # 0 where invalid
    lidar = torch.randn(batch, points, 3, generator=generator) * 3.0  # metres
    present = torch.ones(batch, len(Modality))
    return rgb, depth, lidar, present
