from __future__ import annotations

import json

import pytest

from robotops.errors import UsageError
from robotops.transforms import SPEC_VERSION, PreprocessSpec, SpecError


def test_spec_round_trips_through_json() -> None:
    spec = PreprocessSpec(image_height=48, image_width=80, lidar_points=256, lidar_voxel_m=0.1)
    text = json.dumps(spec.to_dict())
    again = PreprocessSpec.from_dict(json.loads(text))
    assert again == spec
    assert isinstance(again.rgb_mean, tuple)
    assert isinstance(again.lidar_x_m, tuple)
    assert hash(again) == hash(spec)


def test_spec_dict_is_plain_json_with_version() -> None:
    data = PreprocessSpec().to_dict()
    assert data["version"] == SPEC_VERSION
    assert json.loads(json.dumps(data)) == data


def test_partial_dict_takes_defaults() -> None:
    spec = PreprocessSpec.from_dict({"lidar_points": 128})
    assert spec == PreprocessSpec(lidar_points=128)


def test_unknown_version_is_refused() -> None:
    data = PreprocessSpec().to_dict() | {"version": "99"}
    with pytest.raises(SpecError, match="version '99' is not understood"):
        PreprocessSpec.from_dict(data)


def test_unknown_field_is_refused() -> None:
    with pytest.raises(SpecError, match="unknown preprocessing spec field"):
        PreprocessSpec.from_dict(PreprocessSpec().to_dict() | {"lidar_ring_count": 16})


@pytest.mark.parametrize(
    "changes",
    [
        {"image_height": 0},
        {"image_width": 2.5},
        {"lidar_points": True},
        {"rgb_std": (0.2, 0.0, 0.2)},
        {"rgb_mean": (0.5, 0.5)},
        {"depth_max_m": -1.0},
        {"lidar_voxel_m": float("nan")},
        {"lidar_x_m": (5.0, 1.0)},
        {"lidar_y_m": (-1.0, float("inf"))},
        {"lidar_outlier_min_neighbours": -1},
    ],
)
def test_invalid_values_raise_spec_error(changes: dict[str, object]) -> None:
    with pytest.raises(SpecError):
        PreprocessSpec(**changes)  # type: ignore[arg-type]


def test_spec_error_is_a_usage_error() -> None:
    assert issubclass(SpecError, UsageError)


def test_digest_follows_content() -> None:
    assert PreprocessSpec().digest() == PreprocessSpec.from_dict({}).digest()
    assert PreprocessSpec().digest() != PreprocessSpec(depth_max_m=6.0).digest()
