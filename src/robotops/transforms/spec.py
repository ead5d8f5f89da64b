"""The one definition of deterministic preprocessing, as a value that travels with the model.

A :class:`PreprocessSpec` fixes every number the deterministic preprocessing uses: the image size,
the colour normalisation, the depth range, the LiDAR crop, voxel size, outlier rule and point
count. Training, evaluation and the robot runtime all call :mod:`robotops.transforms.preprocess`
with the same spec, and the export bundle stores it (``to_dict()``) in its manifest, so the three
cannot drift apart. ``version`` names the *meaning* of the fields; code refuses a spec whose version
it does not know instead of guessing.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from robotops.transforms.errors import SpecError

SPEC_VERSION = "1"
"""The preprocessing semantics this code implements; bumped whenever a field's meaning changes."""

_PAIRS = ("lidar_x_m", "lidar_y_m", "lidar_z_m")
_TRIPLES = ("rgb_mean", "rgb_std")


@dataclass(frozen=True)
class PreprocessSpec:
    """Deterministic preprocessing of one frame into fixed-size float32 arrays.

    Attributes:
        version: Semantics of the fields; see :data:`SPEC_VERSION`.
        image_height: Height in pixels of the colour and depth arrays handed to the model.
        image_width: Width in pixels of the colour and depth arrays handed to the model.
        rgb_mean: Per-channel mean subtracted from colour scaled to [0, 1].
        rgb_std: Per-channel standard deviation dividing colour after the mean is subtracted.
        depth_max_m: Depth that maps to 1.0; farther valid pixels are clipped to 1.0.
        lidar_x_m: Kept range (min, max) of x (forward) in the robot base frame, metres.
        lidar_y_m: Kept range (min, max) of y (left), metres. Keep it symmetric so that a lateral
            flip maps the crop onto itself.
        lidar_z_m: Kept range (min, max) of z (up, floor at 0), metres.
        lidar_max_range_m: Points farther than this from the base frame's origin are dropped.
        lidar_voxel_m: Edge of the voxel grid; each occupied voxel becomes one point (the mean).
        lidar_outlier_cell_m: Edge of the coarse grid used by the outlier rule.
        lidar_outlier_min_neighbours: A voxel point is kept only if at least this many *other*
            voxel points lie in the 3x3x3 block of coarse cells around its own; 0 turns the rule
            off.
        lidar_points: Fixed number of points handed to the model.
    """

    version: str = SPEC_VERSION
    image_height: int = 64
    image_width: int = 64
    # ImageNet statistics: a neutral default; training may store its dataset's own here.
    rgb_mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    rgb_std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    depth_max_m: float = 8.0
    # Forward half-space: the door the robot is asked about is ahead of it, and the furniture seen
    # through a glass door lies up to a few metres behind the door's wall.
    lidar_x_m: tuple[float, float] = (0.0, 10.0)
    lidar_y_m: tuple[float, float] = (-5.0, 5.0)
    lidar_z_m: tuple[float, float] = (-0.2, 3.0)
    lidar_max_range_m: float = 10.0
    lidar_voxel_m: float = 0.05
    lidar_outlier_cell_m: float = 0.2
    lidar_outlier_min_neighbours: int = 2
    lidar_points: int = 512

    def __post_init__(self) -> None:
        if self.version != SPEC_VERSION:
            raise SpecError(
                f"preprocessing spec version {self.version!r} is not understood "
                f"(this robotops knows version {SPEC_VERSION!r})"
            )
        # Lists from JSON or YAML become tuples, so the spec stays hashable and immutable.
        for name in (*_PAIRS, *_TRIPLES):
            value = getattr(self, name)
            try:
                items = tuple(float(v) for v in value)
            except (TypeError, ValueError) as err:
                raise SpecError(f"{name} must be a sequence of numbers, got {value!r}") from err
            object.__setattr__(self, name, items)
        for name in _TRIPLES:
            if len(getattr(self, name)) != 3:
                raise SpecError(f"{name} needs 3 values (R, G, B), got {getattr(self, name)!r}")
        for name in _PAIRS:
            pair = getattr(self, name)
            if len(pair) != 2 or not all(math.isfinite(v) for v in pair) or pair[0] >= pair[1]:
                raise SpecError(f"{name} must be finite (min, max) with min < max, got {pair!r}")
        for name in ("image_height", "image_width", "lidar_points"):
            _positive_int(name, getattr(self, name))
        if (
            isinstance(self.lidar_outlier_min_neighbours, bool)
            or not isinstance(self.lidar_outlier_min_neighbours, int)
            or self.lidar_outlier_min_neighbours < 0
        ):
            raise SpecError(
                "lidar_outlier_min_neighbours must be an integer >= 0, "
                f"got {self.lidar_outlier_min_neighbours!r}"
            )
        for name in ("depth_max_m", "lidar_max_range_m", "lidar_voxel_m", "lidar_outlier_cell_m"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise SpecError(f"{name} must be a finite number > 0, got {value!r}")
        if any(not math.isfinite(s) or s <= 0 for s in self.rgb_std):
            raise SpecError(f"rgb_std must be > 0 per channel, got {self.rgb_std!r}")
        if not all(math.isfinite(m) for m in self.rgb_mean):
            raise SpecError(f"rgb_mean must be finite, got {self.rgb_mean!r}")

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain JSON types (tuples become lists), for manifests and run parameters."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreprocessSpec:
        """Read a spec written by :meth:`to_dict`.

        Missing fields take their defaults (a ``params.yaml`` may name only what it changes); an
        unknown field or an unknown ``version`` raises :class:`SpecError`, because a spec this
        code cannot fully honour must not be half-applied.
        """
        if not isinstance(data, dict):
            raise SpecError(f"a preprocessing spec must be a mapping, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(f"unknown preprocessing spec field(s): {', '.join(unknown)}")
        return cls(**data)

    def digest(self) -> str:
        """SHA-256 of the canonical JSON form: equal specs give equal digests, for lineage."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def _positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(f"{name} must be an integer >= 1, got {value!r}")
