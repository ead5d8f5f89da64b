"""The four architectures: camera, RGB-D, LiDAR and late fusion of all three.

Each takes ``(rgb, depth, lidar, present)`` and returns logits ``B x K``; it ignores the inputs
it does not use, which its ``uses`` attribute names.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from robotops.models.config import Modality, ModelConfig
from robotops.models.layers import ConvEncoder, Head, PointEncoder


class DoorClassifier(nn.Module):
    """Base of every architecture: records what it was built from, so a checkpoint can say.

    Attributes:
        name: The registry name (``camera``, ``rgbd``, ``lidar``, ``fusion``).
        uses: The modalities whose inputs reach the logits.
        num_classes: K, the number of logits.
        config: The hyperparameters it was built with.
    """

    name: ClassVar[str]
    uses: ClassVar[tuple[Modality, ...]]

    def __init__(self, num_classes: int, config: ModelConfig) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.config = config

    def forward(
        self,
        rgb: torch.Tensor,
        depth: torch.Tensor,
        lidar: torch.Tensor,
        present: torch.Tensor,
    ) -> torch.Tensor:
        """Logits B x K for one batch; see :mod:`robotops.models` for the input contract."""
        raise NotImplementedError


class CameraNet(DoorClassifier):
    """A small CNN on the colour image alone."""

    name = "camera"
    uses = (Modality.RGB,)

    def __init__(self, num_classes: int, config: ModelConfig) -> None:
        super().__init__(num_classes, config)
        self.encoder = ConvEncoder(3, config.width)
        self.head = Head(self.encoder.out_features, config.hidden, num_classes, config.dropout)

    def forward(
        self,
        rgb: torch.Tensor,
        depth: torch.Tensor,
        lidar: torch.Tensor,
        present: torch.Tensor,
    ) -> torch.Tensor:
        """Logits from the colour image; the other inputs are ignored."""
        x = self.encoder(rgb)  # B x 4w
        return self.head(x)  # B x K


class RGBDNet(DoorClassifier):
    """Early fusion: colour and depth stacked into one 5-channel image, the camera's CNN on it.

    Glass shows up in depth as invalid or far readings where the colour image sees a door
    frame, so the first convolution already sees both.
    """

    name = "rgbd"
    uses = (Modality.RGB, Modality.DEPTH)

    def __init__(self, num_classes: int, config: ModelConfig) -> None:
        super().__init__(num_classes, config)
        self.encoder = ConvEncoder(3 + 2, config.width)
        self.head = Head(self.encoder.out_features, config.hidden, num_classes, config.dropout)

    def forward(
        self,
        rgb: torch.Tensor,
        depth: torch.Tensor,
        lidar: torch.Tensor,
        present: torch.Tensor,
    ) -> torch.Tensor:
        """Logits from colour and depth stacked; LiDAR is ignored."""
        x = torch.cat([rgb, depth], dim=1)  # B x 5 x H x W
        x = self.encoder(x)  # B x 4w
        return self.head(x)  # B x K


class LidarNet(DoorClassifier):
    """PointNet-style: a shared per-point MLP, a max-pool over points, an MLP head."""

    name = "lidar"
    uses = (Modality.LIDAR,)

    def __init__(self, num_classes: int, config: ModelConfig) -> None:
        super().__init__(num_classes, config)
        self.encoder = PointEncoder(config.point_width)
        self.head = Head(self.encoder.out_features, config.hidden, num_classes, config.dropout)

    def forward(
        self,
        rgb: torch.Tensor,
        depth: torch.Tensor,
        lidar: torch.Tensor,
        present: torch.Tensor,
    ) -> torch.Tensor:
        """Logits from the point cloud; the images are ignored."""
        x = self.encoder(lidar)  # B x 4pw
        return self.head(x)  # B x K


class FusionNet(DoorClassifier):
    """Late fusion: one encoder per modality, features gated by ``present``, one MLP head.

    A missing modality arrives as zeros with its ``present`` flag at 0. Its encoder still runs
    (no data-dependent branches, so the graph exports to ONNX as is), but its feature is
    multiplied by the flag, so whatever its input holds cannot reach the logits. The flags are
    also fed to the head, so it knows which features are absent rather than merely small.

    The model only handles missing inputs; teaching it to cope with them is the trainer's job,
    through modality dropout: during training it zeroes a modality's input and its ``present``
    flag at random, per sample.
    """

    name = "fusion"
    uses = (Modality.RGB, Modality.DEPTH, Modality.LIDAR)

    def __init__(self, num_classes: int, config: ModelConfig) -> None:
        super().__init__(num_classes, config)
        self.rgb_encoder = ConvEncoder(3, config.width)
        self.depth_encoder = ConvEncoder(2, config.width)
        self.lidar_encoder = PointEncoder(config.point_width)
        features = (
            self.rgb_encoder.out_features
            + self.depth_encoder.out_features
            + self.lidar_encoder.out_features
            + len(Modality)
        )
        self.head = Head(features, config.hidden, num_classes, config.dropout)

    def forward(
        self,
        rgb: torch.Tensor,
        depth: torch.Tensor,
        lidar: torch.Tensor,
        present: torch.Tensor,
    ) -> torch.Tensor:
        """Logits from every modality whose ``present`` flag is 1."""
        f_rgb = self.rgb_encoder(rgb) * present[:, 0:1]  # B x 4w
        f_depth = self.depth_encoder(depth) * present[:, 1:2]  # B x 4w
        f_lidar = self.lidar_encoder(lidar) * present[:, 2:3]  # B x 4pw
        x = torch.cat([f_rgb, f_depth, f_lidar, present], dim=1)  # B x (8w + 4pw + 3)
        return self.head(x)  # B x K
