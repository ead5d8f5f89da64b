from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from robotops.models import MODELS, build_model


def _learnable_batch(
    n: int = 12, size: int = 32, points: int = 64
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """``n`` frames whose class shows in every modality: a colour cast, a depth, a LiDAR offset."""
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(n) % 3  # B
    cls = labels.float().view(n, 1, 1, 1)
    rgb = torch.randn(n, 3, size, size, generator=g) * 0.5
    rgb[:, 0:1] += cls - 1.0  # red channel: -1, 0, +1 by class
    depth_norm = 0.2 + 0.3 * cls + 0.02 * torch.rand(n, 1, size, size, generator=g)
    depth = torch.cat([depth_norm, torch.ones_like(depth_norm)], dim=1)  # B x 2 x H x W
    lidar = torch.randn(n, points, 3, generator=g) * 0.3
    lidar[..., 0] += 1.0 + 1.5 * labels.float().view(n, 1)  # door plane 1, 2.5 or 4 m ahead
    present = torch.ones(n, 3)
    return [rgb, depth, lidar, present], labels


@pytest.mark.parametrize("name", sorted(MODELS))
def test_overfits_a_tiny_batch(name: str) -> None:
    inputs, labels = _learnable_batch()
    torch.manual_seed(0)
    model = build_model(name, 3)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        loss = F.cross_entropy(model(*inputs), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        accuracy = (model.eval()(*inputs).argmax(dim=1) == labels).float().mean().item()
    assert losses[-1] < 0.2 * losses[0], losses
    assert accuracy == 1.0
