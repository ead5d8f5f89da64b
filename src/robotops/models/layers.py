"""The building blocks: an image encoder, a point-cloud encoder and a classifier head."""

from __future__ import annotations

from itertools import pairwise

import torch
from torch import nn


class ConvEncoder(nn.Module):
    """A small VGG-style CNN: image B x C x H x W -> feature B x 4*width.

    Four 3x3 conv-BN-ReLU stages with channels (w, 2w, 4w, 4w) and a 2x2 max-pool between
    them, then a global average pool, so any input of at least 32 x 32 pixels works.
    """

    def __init__(self, in_channels: int, width: int) -> None:
        super().__init__()
        channels = [in_channels, width, 2 * width, 4 * width, 4 * width]
        layers: list[nn.Module] = []
        for stage, (c_in, c_out) in enumerate(pairwise(channels)):
            if stage > 0:
                layers.append(nn.MaxPool2d(2))
            # No conv bias: the BatchNorm that follows has its own.
            layers += [
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
        self.body = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.out_features = channels[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode a batch of images."""
        x = self.body(x)  # B x 4w x H/8 x W/8
        return self.pool(x).flatten(1)  # B x 4w


class PointEncoder(nn.Module):
    """PointNet without its transform nets: cloud B x P x 3 -> feature B x 4*width.

    A shared per-point MLP (1x1 convolutions, channels w, 2w, 4w) followed by a max-pool over
    the points. The max makes the feature independent of point order, and padding a cloud by
    repeating its own points leaves it unchanged.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        channels = [3, width, 2 * width, 4 * width]
        layers: list[nn.Module] = []
        for c_in, c_out in pairwise(channels):
            layers += [
                nn.Conv1d(c_in, c_out, 1, bias=False),
                nn.BatchNorm1d(c_out),
                nn.ReLU(inplace=True),
            ]
        self.mlp = nn.Sequential(*layers)
        self.out_features = channels[-1]

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """Encode a batch of point clouds."""
        x = points.transpose(1, 2)  # B x 3 x P
        x = self.mlp(x)  # B x 4w x P
        return x.amax(dim=2)  # B x 4w


class Head(nn.Module):
    """The classifier: feature B x F -> logits B x K, one hidden layer."""

    def __init__(self, in_features: int, hidden: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Classify a batch of features."""
        return self.mlp(x)  # B x K
