from __future__ import annotations

import pytest
import torch

import robotops.models
from robotops import UsageError
from robotops.models import (
    INPUT_NAMES,
    MODELS,
    DoorClassifier,
    Modality,
    ModelConfig,
    build_model,
    count_parameters,
    example_inputs,
)

NAMES = sorted(MODELS)
K = 3


def _seeded(name: str, num_classes: int = K, seed: int = 0, **hyper: object) -> DoorClassifier:
    torch.manual_seed(seed)
    return build_model(name, num_classes, **hyper)


def _inputs(batch: int = 4, seed: int = 1, **sizes: int) -> list[torch.Tensor]:
    return list(example_inputs(batch, generator=torch.Generator().manual_seed(seed), **sizes))


def test_public_names_resolve() -> None:
    for name in robotops.models.__all__:
        assert hasattr(robotops.models, name), name


def test_registry_names_and_modalities() -> None:
    assert set(MODELS) == {"camera", "rgbd", "lidar", "fusion"}
    assert MODELS["camera"].uses == (Modality.RGB,)
    assert MODELS["rgbd"].uses == (Modality.RGB, Modality.DEPTH)
    assert MODELS["lidar"].uses == (Modality.LIDAR,)
    assert MODELS["fusion"].uses == tuple(Modality)
    # Modalities are plain strings too, so evaluation can match them against input names.
    assert all(m in INPUT_NAMES for cls in MODELS.values() for m in cls.uses)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("num_classes", [2, 5])
def test_logits_shape(name: str, num_classes: int) -> None:
    model = _seeded(name, num_classes).eval()
    with torch.no_grad():
        logits = model(*_inputs(batch=4))
    assert logits.shape == (4, num_classes)
    assert logits.dtype == torch.float32
    assert torch.isfinite(logits).all()
    assert model.num_classes == num_classes
    assert model.config == ModelConfig()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("height", "width"), [(32, 32), (48, 80)])
def test_any_image_size_from_32(name: str, height: int, width: int) -> None:
    model = _seeded(name).eval()
    with torch.no_grad():
        logits = model(*_inputs(batch=2, height=height, width=width, points=100))
    assert logits.shape == (2, K)


@pytest.mark.parametrize("name", NAMES)
def test_parameter_budget(name: str) -> None:
    assert count_parameters(_seeded(name)) < 250_000  # budget is 1M; defaults stay far below
    assert count_parameters(_seeded(name, width=32, point_width=64, hidden=128)) < 1_000_000


@pytest.mark.parametrize("name", NAMES)
def test_gradients_reach_every_parameter(name: str) -> None:
    model = _seeded(name).train()
    logits = model(*_inputs(batch=4))
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 0])).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, pname
        assert p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_model(name: str) -> None:
    a, b, c = _seeded(name, seed=7), _seeded(name, seed=7), _seeded(name, seed=8)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    x = _inputs()
    # Training mode too: dropout draws from the global generator, so reseed before each pass.
    for mode in (False, True):
        a.train(mode), b.train(mode)
        torch.manual_seed(3)
        ya = a(*x)
        torch.manual_seed(3)
        yb = b(*x)
        assert torch.equal(ya, yb)


@pytest.mark.parametrize("name", NAMES)
def test_unused_inputs_are_ignored(name: str) -> None:
    model = _seeded(name).eval()
    x = _inputs(seed=1)
    other = _inputs(seed=2)
    with torch.no_grad():
        base = model(*x)
        for i, modality in enumerate(Modality):
            changed = list(x)
            changed[i] = other[i]
            moved = not torch.equal(model(*changed), base)
            assert moved == (modality in model.uses), modality


def test_fusion_ignores_a_missing_modality_and_uses_a_present_one() -> None:
    model = _seeded("fusion").eval()
    x = _inputs(seed=1)
    other = _inputs(seed=2)
    with torch.no_grad():
        for i, modality in enumerate(Modality):
            present = torch.ones(4, 3)
            present[:, i] = 0
            missing = [*x[:3], present]
            missing[i] = torch.zeros_like(x[i])  # as the preprocessing delivers it
            garbage = [*x[:3], present]
            garbage[i] = other[i]
            assert torch.equal(model(*missing), model(*garbage)), modality
            swapped = list(x)
            swapped[i] = other[i]
            assert not torch.allclose(model(*x), model(*swapped)), modality
        # The head sees the flags: dropping a modality is not the same as all-zero features.
        present = x[3].clone()
        present[:, 0] = 0
        assert not torch.equal(model(*x[:3], present), model(*x))


def test_lidar_is_invariant_to_point_order_and_repeats() -> None:
    model = _seeded("lidar").eval()
    rgb, depth, lidar, present = _inputs(batch=3, points=64)
    shuffled = lidar[:, torch.randperm(64, generator=torch.Generator().manual_seed(0))]
    padded = torch.cat([lidar, lidar[:, :16]], dim=1)  # padding repeats real points
    with torch.no_grad():
        base = model(rgb, depth, lidar, present)
        assert torch.allclose(model(rgb, depth, shuffled, present), base, atol=1e-6)
        assert torch.allclose(model(rgb, depth, padded, present), base, atol=1e-6)


def test_unknown_model_name_lists_known_ones() -> None:
    with pytest.raises(UsageError, match=r"unknown model 'resnet'.*camera, rgbd, lidar, fusion"):
        build_model("resnet", K)


@pytest.mark.parametrize(
    ("num_classes", "hyper", "match"),
    [
        (1, {}, "num_classes"),
        (K, {"width": 0}, "width"),
        (K, {"dropout": 1.0}, "dropout"),
        (K, {"depth": 3}, "depth"),
    ],
)
def test_bad_hyperparameters_are_usage_errors(
    num_classes: int, hyper: dict[str, object], match: str
) -> None:
    with pytest.raises(UsageError, match=match):
        build_model("camera", num_classes, **hyper)
