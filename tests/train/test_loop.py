"""Batches: seeded from (seed, epoch), augmented with modality dropout, sharded across workers."""

from __future__ import annotations

import numpy as np
import torch

from robotops.train.data import FrameArrays
from robotops.train.loop import batches
from robotops.transforms import AugmentConfig, PreprocessSpec, sample_shapes

SPEC = PreprocessSpec(image_height=16, image_width=16, lidar_points=32)


def frames(n: int = 20) -> FrameArrays:
    rng = np.random.default_rng(0)
    arrays = {
        k: rng.normal(size=(n, *s)).astype(np.float32) for k, s in sample_shapes(SPEC).items()
    }
    arrays["present"] = np.ones((n, 3), np.float32)
    arrays["lidar_mask"] = np.ones((n, SPEC.lidar_points), np.float32)
    arrays["depth"][:, 1] = 1.0
    labels = np.arange(n) % 3
    return FrameArrays(arrays, labels, tuple(f"f{i}" for i in range(n)), ("a", "b", "c"), False)


def epoch(data: FrameArrays, seed: int, number: int, augment: AugmentConfig, **kw: int) -> list:
    return list(batches(data, 8, seed=seed, epoch=number, augment=augment, spec=SPEC, **kw))


def test_an_epoch_is_a_seeded_permutation() -> None:
    data = frames()
    none = AugmentConfig()
    first = torch.cat([labels for _, labels in epoch(data, 0, 1, none)])
    assert sorted(first.tolist()) == sorted(data.labels.tolist())
    again = torch.cat([labels for _, labels in epoch(data, 0, 1, none)])
    next_epoch = torch.cat([labels for _, labels in epoch(data, 0, 2, none)])
    assert torch.equal(first, again) and not torch.equal(first, next_epoch)


def test_augmentation_drops_modalities_and_is_repeatable() -> None:
    data = frames()
    augment = AugmentConfig(modality_drop_prob=0.5, flip_prob=0.5, rgb_noise_std=0.05)
    one, two = epoch(data, 3, 1, augment), epoch(data, 3, 1, augment)
    present = torch.cat([inputs[3] for inputs, _ in one])
    assert (present == 0).any(), "modality dropout never dropped a sensor"
    assert (present.sum(1) >= 1).all(), "a frame lost every modality"
    dropped = present[:, 0] == 0
    rgb = torch.cat([inputs[0] for inputs, _ in one])
    assert (rgb[dropped] == 0).all()  # a dropped camera is all zeros, as at inference
    for (a, _), (b, _) in zip(one, two, strict=True):
        assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_workers_take_disjoint_equal_shares() -> None:
    data = frames(21)
    none = AugmentConfig()
    shares = [
        torch.cat([labels for _, labels in epoch(data, 0, 1, none, rank=r, world=2)])
        for r in (0, 1)
    ]
    assert len(shares[0]) == len(shares[1]) == 10
    rows = [
        torch.cat([inputs[0][:, 0, 0, 0] for inputs, _ in epoch(data, 0, 1, none, rank=r, world=2)])
        for r in (0, 1)
    ]
    assert not set(rows[0].tolist()) & set(rows[1].tolist())
