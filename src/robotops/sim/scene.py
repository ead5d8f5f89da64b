"""What one simulated recording shows: the door, its variant, lighting and the hard cases.

A :class:`Scenario` is drawn once per recording and fixes everything that does not change while
the robot drives towards the door. :func:`build_world` turns it into axis-aligned rectangles in
the world frame (x forward towards the door wall, y left, z up, floor at z = 0, the door wall at
x = 0), which :mod:`robotops.sim.raycast` renders for the camera, the depth camera and the LiDAR.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

import numpy as np

from robotops.sim.sites import RGB, Site


class DoorClass(StrEnum):
    """Ground-truth classes of the reference task."""

    GLASS = "glass_door"
    WOOD = "wooden_door"
    NONE = "no_door"


CLASSES: tuple[str, ...] = tuple(c.value for c in DoorClass)

# Variants per class, with how often each is drawn. The hard ones are frequent on purpose.
VARIANTS: dict[DoorClass, dict[str, float]] = {
    DoorClass.GLASS: {"clear": 0.4, "dark_tint": 0.3, "frosted": 0.3},
    DoorClass.WOOD: {"light": 0.5, "dark": 0.5},
    DoorClass.NONE: {"wall": 0.4, "open_doorway": 0.35, "corridor": 0.25},
}

_IVORY: RGB = (1.0, 0.76, 0.46)

LIGHTING: dict[str, float] = {"day": 0.6, "dim": 0.25, "night": 0.15}
LIGHTING_LUX: dict[str, float] = {"day": 1.0, "dim": 0.45, "night": 0.16}


class Material(IntEnum):
    """Surface materials; each reflects, transmits and returns range differently."""

    WALL = 0
    FLOOR = 1
    CEILING = 2
    FRAME = 3
    WOOD = 4
    GLASS = 5
    FROSTED = 6
    ROOM = 7
    FURNITURE = 8
    PERSON = 9


TRANSPARENT = frozenset({Material.GLASS, Material.FROSTED})


@dataclass(frozen=True)
class Rect:
    """An axis-aligned rectangle: the plane ``axis = coord`` bounded on the other two axes.

    ``lo``/``hi`` bound the two remaining axes in increasing axis order (for axis 0 they bound
    y and z). ``hole`` cuts a rectangle out of it with the same convention, as a doorway in a wall.
    """

    axis: int
    coord: float
    lo: tuple[float, float]
    hi: tuple[float, float]
    material: Material
    rgb: RGB
    hole: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class Scenario:
    """Everything fixed for one recording.

    Distances are metres; ``door_y_m`` is the door centre's lateral position in the world frame.
    """

    door_class: DoorClass
    variant: str
    lighting: str
    lux: float
    door_y_m: float
    door_width_m: float
    door_height_m: float
    start_distance_m: float
    end_distance_m: float
    room_depth_m: float
    robot_offset_m: float
    yaw0_rad: float
    occluded: bool
    person_start_y_m: float
    person_x_m: float
    person_rgb: RGB
    motion_blur: bool
    furniture: tuple[tuple[float, float, float, float, RGB], ...]
    highlight_phase: float
    door_rgb_scale: RGB
    film_warmth: float

    @property
    def tags(self) -> dict[str, str]:
        """Recording-level tags that become evaluation slices."""
        return {"lighting": self.lighting, "variant": self.variant}


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = list(weights)
    p = np.array([weights[n] for n in names])
    return str(rng.choice(names, p=p / p.sum()))


def sample_scenario(
    site: Site,
    door_class: DoorClass,
    rng: np.random.Generator,
    duration_s: float,
    *,
    variant: str | None = None,
    lighting: str | None = None,
) -> Scenario:
    """Draw a scenario of ``door_class`` at ``site`` for a recording of ``duration_s`` seconds.

    ``variant`` and ``lighting`` force those draws instead of sampling them.
    """
    variant = variant or _pick(rng, VARIANTS[door_class])
    if variant not in VARIANTS[door_class]:
        raise ValueError(f"variant {variant!r} is not one of {door_class.value}'s")
    lighting = lighting or _pick(rng, LIGHTING)
    lux = float(rng.uniform(*site.lux_range)) * LIGHTING_LUX[lighting]
    furniture = tuple(
        (
            float(rng.uniform(1.0, 4.0)),  # depth behind the door wall
            float(rng.uniform(-2.0, 2.0)),  # lateral centre
            float(rng.uniform(0.5, 1.4)),  # half width
            float(rng.uniform(0.7, 2.0)),  # height
            (
                float(rng.uniform(0.1, 0.9)),
                float(rng.uniform(0.1, 0.9)),
                float(rng.uniform(0.1, 0.9)),
            ),
        )
        for _ in range(int(rng.integers(1, 4)))
    )
    # Drive at a walking pace; the recording's length decides how much of the approach it covers.
    path = float(rng.uniform(0.6, 1.2)) * duration_s
    start = float(rng.uniform(1.3 + path, max(6.0, 1.3 + path + 0.5)))
    return Scenario(
        door_class=door_class,
        variant=variant,
        lighting=lighting,
        lux=lux,
        door_y_m=0.0,
        door_width_m=float(rng.uniform(0.85, 1.1)),
        door_height_m=float(rng.uniform(2.0, 2.3)),
        start_distance_m=start,
        end_distance_m=start - path,
        room_depth_m=float(rng.uniform(4.0, 7.0)),
        robot_offset_m=float(rng.uniform(-0.35, 0.35)),
        yaw0_rad=float(rng.uniform(-0.08, 0.08)),
        occluded=bool(rng.random() < 0.2),
        person_start_y_m=float(rng.choice([-1.0, 1.0]) * rng.uniform(1.2, 1.8)),
        person_x_m=float(-rng.uniform(0.6, 1.2)),
        person_rgb=(
            float(rng.uniform(0.05, 0.6)),
            float(rng.uniform(0.05, 0.6)),
            float(rng.uniform(0.05, 0.6)),
        ),
        motion_blur=bool(rng.random() < 0.2),
        furniture=furniture,
        highlight_phase=float(rng.uniform(0.0, 1.0)),
        # No two doors are alike: stain, film and fading vary per door, hue included.
        door_rgb_scale=(
            float(rng.uniform(0.75, 1.25)),
            float(rng.uniform(0.75, 1.25)),
            float(rng.uniform(0.75, 1.25)),
        ),
        film_warmth=float(rng.uniform(0.0, 1.0)),
    )


def door_rgb(site: Site, scenario: Scenario) -> RGB:
    """Colour of the door leaf: wood tone, or the glass tint."""
    match scenario.variant:
        case "light":
            base = site.wood_light_rgb
        case "dark":
            base = site.wood_dark_rgb
        case "dark_tint":
            base = site.glass_dark_tint_rgb
        case "frosted":
            # Frosted films run from neutral white to a warm ivory; each door has its own.
            w = scenario.film_warmth
            base = tuple(
                t * (1 - w) + i * w for t, i in zip(site.glass_tint_rgb, _IVORY, strict=True)
            )
        case _:
            base = site.glass_tint_rgb
    r, g, b = (min(1.0, c * k) for c, k in zip(base, scenario.door_rgb_scale, strict=True))
    return (r, g, b)


def build_world(site: Site, scenario: Scenario, person_y_m: float | None) -> list[Rect]:
    """The rectangles of the scene; ``person_y_m`` places the occluding person, if any."""
    half_c = site.corridor_m / 2
    ceil = site.ceiling_m
    far = -60.0
    wall_x = 0.0
    half_w = scenario.door_width_m / 2
    y0, y1 = scenario.door_y_m - half_w, scenario.door_y_m + half_w
    z1 = scenario.door_height_m
    has_opening = scenario.variant not in ("wall", "corridor")
    if scenario.variant == "corridor":
        wall_x = 14.0  # an open corridor: the end wall is far away
    back_x = wall_x + scenario.room_depth_m
    room_half = 5.0

    rects = [
        Rect(2, 0.0, (far, -half_c), (wall_x, half_c), Material.FLOOR, site.floor_rgb),
        Rect(2, ceil, (far, -half_c), (wall_x, half_c), Material.CEILING, (0.9, 0.9, 0.9)),
        Rect(1, -half_c, (far, 0.0), (wall_x, ceil), Material.WALL, site.wall_rgb),
        Rect(1, half_c, (far, 0.0), (wall_x, ceil), Material.WALL, site.wall_rgb),
        Rect(
            0,
            wall_x,
            (-half_c, 0.0),
            (half_c, ceil),
            Material.WALL,
            site.wall_rgb,
            hole=(y0, 0.0, y1, z1) if has_opening else None,
        ),
    ]
    if has_opening:
        frame = 0.07
        rects += [  # the frame: two jambs and a head, slightly proud of the wall
            Rect(0, -0.01, (y0 - frame, 0.0), (y0, z1 + frame), Material.FRAME, site.frame_rgb),
            Rect(0, -0.01, (y1, 0.0), (y1 + frame, z1 + frame), Material.FRAME, site.frame_rgb),
            Rect(0, -0.01, (y0, z1), (y1, z1 + frame), Material.FRAME, site.frame_rgb),
            # The room behind the doorway.
            Rect(2, 0.0, (wall_x, -room_half), (back_x, room_half), Material.FLOOR, site.floor_rgb),
            Rect(
                2,
                ceil,
                (wall_x, -room_half),
                (back_x, room_half),
                Material.CEILING,
                (0.9, 0.9, 0.9),
            ),
            Rect(
                0, back_x, (-room_half, 0.0), (room_half, ceil), Material.ROOM, (0.78, 0.76, 0.70)
            ),
            Rect(1, -room_half, (wall_x, 0.0), (back_x, ceil), Material.ROOM, (0.70, 0.72, 0.74)),
            Rect(1, room_half, (wall_x, 0.0), (back_x, ceil), Material.ROOM, (0.70, 0.72, 0.74)),
        ]
        for depth, centre, half, height, rgb in scenario.furniture:
            x = min(wall_x + depth, back_x - 0.05)
            rects.append(
                Rect(0, x, (centre - half, 0.0), (centre + half, height), Material.FURNITURE, rgb)
            )
        if scenario.door_class is not DoorClass.NONE:
            material = {
                "clear": Material.GLASS,
                "dark_tint": Material.GLASS,
                "frosted": Material.FROSTED,
            }.get(scenario.variant, Material.WOOD)
            rects.append(Rect(0, 0.04, (y0, 0.0), (y1, z1), material, door_rgb(site, scenario)))
    if person_y_m is not None:
        rects.append(
            Rect(
                0,
                scenario.person_x_m,
                (person_y_m - 0.25, 0.0),
                (person_y_m + 0.25, 1.75),
                Material.PERSON,
                scenario.person_rgb,
            )
        )
    return rects
